#!/usr/bin/env bash
# Convert a CGH checkpoint to a backbone file, then fine-tune a downstream config with
# torchrun + tools/train.py, every given init_cfg.checkpoint key pointing at that file.
#   tools/benchmarks/dist_finetune.sh WORK_GROUP "INIT_KEYS" CONFIG PRETRAIN GPUS [args...]
# Used by tools/benchmarks/mmdetection/dist_train_{c4,fpn}.sh and
# tools/benchmarks/mmsegmentation/dist_train.sh. Extra args go to tools/train.py (put
# more key=value overrides right after them, not in a second --cfg-options).
# Env: CONVERT_ARGS="--teacher" to use the teacher backbone; PORT; WORK_DIR.
set -euo pipefail
if [ $# -lt 5 ]; then
    echo "usage: $(basename "$0") WORK_GROUP \"INIT_KEYS\" CONFIG PRETRAIN GPUS [train.py args...]" >&2
    exit 2
fi
WORK_GROUP=$1
INIT_KEYS=$2
CONFIG=$3
PRETRAIN=$4
GPUS=$5
shift 5
PORT=${PORT:-29500}
WORK_DIR=${WORK_DIR:-work_dirs/benchmarks/$WORK_GROUP/$(basename "${CONFIG%.*}")}
BACKBONE=$WORK_DIR/backbone.pth
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

OVERRIDES=()
for key in $INIT_KEYS; do
    OVERRIDES+=("$key=$BACKBONE")
done

# shellcheck disable=SC2086
python "$ROOT/tools/model_converters/cgh2backbone.py" "$PRETRAIN" "$BACKBONE" \
    --format openmmlab ${CONVERT_ARGS:-}
torchrun --nproc_per_node="$GPUS" --master_port="$PORT" "$ROOT/tools/train.py" "$CONFIG" \
    --launcher pytorch --work-dir "$WORK_DIR" --cfg-options "${OVERRIDES[@]}" "$@"
