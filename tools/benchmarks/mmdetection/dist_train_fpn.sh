#!/usr/bin/env bash
# Fine-tune an mmdet FPN detector (Mask R-CNN R50-FPN) from a CGH checkpoint:
#   tools/benchmarks/mmdetection/dist_train_fpn.sh CONFIG PRETRAIN GPUS [train.py args...]
# The backbone is initialised from the converted backbone file.
# See tools/benchmarks/dist_finetune.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG PRETRAIN GPUS [train.py args...]" >&2
    exit 2
fi
exec "$(dirname "$0")/../dist_finetune.sh" mmdetection "model.backbone.init_cfg.checkpoint" "$@"
