#!/usr/bin/env bash
# Distributed testing with torchrun (see tools/launch_env.sh for several nodes and CPU).
set -euo pipefail
source "$(dirname "$0")/launch_env.sh"
need_args 3 'CONFIG CHECKPOINT GPUS [tools/test.py arguments...]' "$@"
dist_run "$3" "$ROOT/tools/test.py" "$1" "$2" --launcher pytorch "${@:4}"
