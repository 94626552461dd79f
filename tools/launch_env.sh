# Sourced by the launch scripts: PYTHON is $PYTHON if set, else this checkout's
# .venv/bin/python if it exists, else `python`; the checkout goes first on PYTHONPATH.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -x "$ROOT/.venv/bin/python" ]; then : "${PYTHON:=$ROOT/.venv/bin/python}"; fi
PYTHON=${PYTHON:-python}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

need_args() {  # need_args N USAGE "$@": usage and exit 2 with fewer than N arguments
    if [ "$(($# - 2))" -lt "$1" ]; then echo "usage: $0 $2" >&2; exit 2; fi
}

# dist_run NPROC SCRIPT [args...]: torchrun on this node; NNODES, NODE_RANK, MASTER_ADDR
# and PORT for several nodes. Without a GPU the processes use gloo on CPU.
dist_run() {
    exec "$PYTHON" -m torch.distributed.run --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$1" --master_port="${PORT:-29500}" "${@:2}"
}
