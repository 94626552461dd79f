#!/usr/bin/env bash
# Distributed training with torchrun (see tools/launch_env.sh for several nodes and CPU).
set -euo pipefail
source "$(dirname "$0")/launch_env.sh"
need_args 2 'CONFIG GPUS [tools/train.py arguments...]' "$@"
dist_run "$2" "$ROOT/tools/train.py" "$1" --launcher pytorch "${@:3}"
