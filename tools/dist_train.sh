#!/usr/bin/env bash
# Distributed training with torchrun:  tools/dist_train.sh CONFIG GPUS [train.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
# Without a GPU, every process trains on CPU with the gloo backend.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py arguments...]" >&2
    exit 2
fi
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
exec "$TOOLS_DIR/dist_launch.sh" "$2" "$TOOLS_DIR/train.py" "$1" --launcher pytorch "${@:3}"
