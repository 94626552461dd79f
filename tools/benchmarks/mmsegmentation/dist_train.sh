#!/usr/bin/env bash
# Fine-tune an mmseg segmentor (FCN R50-D8) from a CGH checkpoint.
#   tools/benchmarks/mmsegmentation/dist_train.sh CONFIG PRETRAIN GPUS [train.py args...]
# The CGH checkpoint is converted to a backbone file first; the backbone is
# initialised from it.
# Env: CONVERT_ARGS="--teacher" to use the teacher; PORT, WORK_DIR as usual.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG PRETRAIN GPUS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
PRETRAIN=$2
GPUS=$3
shift 3
PORT=${PORT:-29500}
WORK_DIR=${WORK_DIR:-work_dirs/benchmarks/mmsegmentation/$(basename "${CONFIG%.*}")}
BACKBONE=$WORK_DIR/backbone.pth
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# shellcheck disable=SC2086
python "$ROOT/tools/model_converters/cgh2backbone.py" "$PRETRAIN" "$BACKBONE" \
    --format openmmlab ${CONVERT_ARGS:-}
torchrun --nproc_per_node="$GPUS" --master_port="$PORT" "$ROOT/tools/train.py" "$CONFIG" \
    --launcher pytorch --work-dir "$WORK_DIR" \
    --cfg-options model.backbone.init_cfg.checkpoint="$BACKBONE" "$@"
