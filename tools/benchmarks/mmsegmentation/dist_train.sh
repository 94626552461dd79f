#!/usr/bin/env bash
# Fine-tune an mmseg segmentor (FCN R50-D8) from a CGH checkpoint's backbone.
set -euo pipefail
source "$(dirname "$0")/../../launch_env.sh"
need_args 3 'CONFIG PRETRAIN GPUS [tools/train.py arguments...]' "$@"
exec "$ROOT/tools/benchmarks/dist_finetune.sh" mmsegmentation "model.backbone.init_cfg.checkpoint" "$@"
