#!/usr/bin/env bash
# torchrun a tool on this node:  tools/dist_launch.sh NPROC SCRIPT [script args...]
# Used by dist_train.sh and dist_test.sh. Multi-node: set NNODES, NODE_RANK,
# MASTER_ADDR and PORT on every node. Without a GPU, the processes use gloo on CPU.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 NPROC SCRIPT [script arguments...]" >&2
    exit 2
fi
NPROC=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$SCRIPT" "${@:3}"
