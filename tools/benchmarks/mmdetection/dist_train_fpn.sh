#!/usr/bin/env bash
# Fine-tune an mmdet FPN detector (Mask R-CNN R50-FPN) from a CGH checkpoint's backbone.
set -euo pipefail
source "$(dirname "$0")/../../launch_env.sh"
need_args 3 'CONFIG PRETRAIN GPUS [tools/train.py arguments...]' "$@"
exec "$ROOT/tools/benchmarks/dist_finetune.sh" mmdetection "model.backbone.init_cfg.checkpoint" "$@"
