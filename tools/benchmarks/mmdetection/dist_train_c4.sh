#!/usr/bin/env bash
# Fine-tune an mmdet C4 detector (Faster/Mask R-CNN R50-C4) from a CGH checkpoint:
#   tools/benchmarks/mmdetection/dist_train_c4.sh CONFIG PRETRAIN GPUS [train.py args...]
# The backbone and the res5 shared head (roi_head.shared_head, stage `layer4`) are both
# initialised from the converted backbone file. See tools/benchmarks/dist_finetune.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG PRETRAIN GPUS [train.py args...]" >&2
    exit 2
fi
exec "$(dirname "$0")/../dist_finetune.sh" mmdetection \
    "model.backbone.init_cfg.checkpoint model.roi_head.shared_head.init_cfg.checkpoint" "$@"
