#!/usr/bin/env bash
# Fine-tune an mmseg segmentor (FCN R50-D8) from a CGH checkpoint:
#   tools/benchmarks/mmsegmentation/dist_train.sh CONFIG PRETRAIN GPUS [train.py args...]
# The backbone is initialised from the converted backbone file.
# See tools/benchmarks/dist_finetune.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG PRETRAIN GPUS [train.py args...]" >&2
    exit 2
fi
exec "$(dirname "$0")/../dist_finetune.sh" mmsegmentation "model.backbone.init_cfg.checkpoint" "$@"
