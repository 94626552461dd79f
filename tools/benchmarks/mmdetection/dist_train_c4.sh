#!/usr/bin/env bash
# Fine-tune an mmdet C4 detector (Faster/Mask R-CNN R50-C4) from a CGH checkpoint: the
# backbone and the res5 shared head (roi_head.shared_head) load the converted backbone.
set -euo pipefail
source "$(dirname "$0")/../../launch_env.sh"
need_args 3 'CONFIG PRETRAIN GPUS [tools/train.py arguments...]' "$@"
exec "$ROOT/tools/benchmarks/dist_finetune.sh" mmdetection \
    "model.backbone.init_cfg.checkpoint model.roi_head.shared_head.init_cfg.checkpoint" "$@"
