#!/usr/bin/env bash
# Build the project's virtual environment: pinned OpenMMLab 2.x stack and mmcv 2.1.0
# compiled with its CPU ops (no CPU wheel of mmcv exists on PyPI), on a GPU machine too:
# the GPUs are hidden from mmcv's build (docs/gpu.md has the CUDA build, for mmdet/mmseg
# fine-tuning on GPUs).
#
#   VENV=.venv tools/setup_env.sh          # everything: make test
#   VENV=.venv tools/setup_env.sh --demo   # no compiled mmcv op: make demo
#
# --demo installs mmcv-lite (mmcv's pure-Python wheel, same version): pretraining, kNN and
# the linear probe use no compiled mmcv op, only mmdet/mmseg fine-tuning and their tests
# do. A later full run replaces mmcv-lite by the compiled mmcv; --demo keeps a compiled
# mmcv that is already there.
# The compiled mmcv wheel is kept in a wheelhouse keyed by torch version
# ($MMCV_WHEELHOUSE, default ~/.cache/cgh-mm/wheelhouse), so a second build takes ~90 s.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=0
case "${1:-}" in
  --demo) DEMO=1 ;;
  "") ;;
  *) echo "usage: tools/setup_env.sh [--demo]" >&2; exit 2 ;;
esac
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
TORCH_VERSION=2.14.1
MMCV_VERSION=2.1.0
WHEELHOUSE=${MMCV_WHEELHOUSE:-$HOME/.cache/cgh-mm/wheelhouse}/torch${TORCH_VERSION}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt

has_mmcv_ops() {
  "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null
}
if [ "$DEMO" = 1 ]; then
  has_mmcv_ops || "$VPY" -m pip install -q "mmcv-lite==${MMCV_VERSION}"
  "$VPY" -m pip install -q --no-deps -e .
  "$VPY" -c "import mmcv, mmpretrain; print('demo environment ready: mmcv', mmcv.__version__)"
  exit 0
fi
if ! has_mmcv_ops; then
  # mmcv-lite (from --demo) and mmcv install the same files: remove it first, or
  # uninstalling it later would delete the compiled mmcv's files.
  if "$VPY" -m pip show -q mmcv-lite >/dev/null 2>&1; then
    "$VPY" -m pip uninstall -q -y mmcv-lite
  fi
  mkdir -p "$WHEELHOUSE"
  if ! ls "$WHEELHOUSE"/mmcv-${MMCV_VERSION}-*.whl >/dev/null 2>&1; then
    echo "Compiling mmcv ${MMCV_VERSION} with CPU ops (12-18 min on 2 cores)..."
    # torch 2.14 headers need C++20, mmcv's setup.py appends -std=c++17 and gcc keeps the last -std.
    wrapdir=$(mktemp -d)
    printf '#!/bin/sh\nexec g++ "$@" -std=c++20\n' > "$wrapdir/cxx20"
    chmod +x "$wrapdir/cxx20"
    # mmcv 2.1.0's setup.py builds the CUDA ops whenever torch.cuda.is_available(), whatever
    # FORCE_CUDA=0 says (and nvcc then fails on torch's C++20 check): CUDA_VISIBLE_DEVICES=
    # hides the GPUs from the build, so this is the CPU-ops wheel on any machine.
    CUDA_VISIBLE_DEVICES= CXX="$wrapdir/cxx20" MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(nproc) \
      "$VPY" -m pip wheel --no-build-isolation --no-deps --no-cache-dir \
      -w "$WHEELHOUSE" "mmcv==${MMCV_VERSION}"
    rm -rf "$wrapdir"
  fi
  "$VPY" -m pip install -q --no-deps "$WHEELHOUSE"/mmcv-${MMCV_VERSION}-*.whl
fi
"$VPY" -m pip install -q --no-deps -e .
"$VPY" -c "import mmcv.ops, mmpretrain, mmdet, mmseg; print('environment ready:', mmcv.__version__)"
