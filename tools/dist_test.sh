#!/usr/bin/env bash
# Distributed testing with torchrun:  tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
# Without a GPU, every process runs on CPU with the gloo backend.
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py arguments...]" >&2
    exit 2
fi
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
exec "$TOOLS_DIR/dist_launch.sh" "$3" "$TOOLS_DIR/test.py" "$1" "$2" --launcher pytorch "${@:4}"
