#!/usr/bin/env bash
# Convert a CGH checkpoint (CONVERT_ARGS=--teacher: its teacher) to a backbone file in
# WORK_DIR, then fine-tune CONFIG with torchrun + tools/train.py, each INIT_KEYS key set to
# that file. Further key=value overrides go right after GPUS, not in a second --cfg-options.
set -euo pipefail
source "$(dirname "$0")/../launch_env.sh"
need_args 5 'WORK_GROUP "INIT_KEYS" CONFIG PRETRAIN GPUS [tools/train.py arguments...]' "$@"
WORK_DIR=${WORK_DIR:-work_dirs/benchmarks/$1/$(basename "${3%.*}")}
# --cfg-options deletes spaces: below the current folder, the relative path may have none
BACKBONE=${WORK_DIR#"$PWD"/}/backbone.pth
if [[ $BACKBONE == *' '* ]]; then
    echo "error: the backbone file $BACKBONE would be passed with mmengine's" \
        "--cfg-options, which deletes spaces. Set WORK_DIR to a path without spaces." >&2
    exit 2
fi
OVERRIDES=()
for key in $2; do OVERRIDES+=("$key=$BACKBONE"); done
# shellcheck disable=SC2086
"$PYTHON" "$ROOT/tools/model_converters/cgh2backbone.py" "$4" "$BACKBONE" \
    --format openmmlab ${CONVERT_ARGS:-}
dist_run "$5" "$ROOT/tools/train.py" "$3" --launcher pytorch --work-dir "$WORK_DIR" \
    --cfg-options "${OVERRIDES[@]}" "${@:6}"
