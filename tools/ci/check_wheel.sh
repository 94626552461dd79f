#!/usr/bin/env bash
# The built wheel as a pip user gets it: build it from the tracked files, install it (not
# editable) into a fresh virtual environment with torch, torchvision and the mmcv wheel of
# tools/setup_env.sh, check its declared requirements, then pretrain a tiny CGH model for
# one epoch from outside the repository with the tool and config packaged in the wheel.
#
#   tools/ci/check_wheel.sh        # after `make env` (needs the mmcv wheel it caches)
#
# PYTHON: the interpreter of the fresh venv (python3); KEEP_WHEEL_CHECK=1 keeps the
# temporary folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PY=${PYTHON:-python3}
MMCV_VERSION=2.1.0
TORCH_VERSION=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' requirements/runtime.txt)
WHEELHOUSE=${MMCV_WHEELHOUSE:-$HOME/.cache/cgh-mm/wheelhouse}/torch${TORCH_VERSION}
MMCV_WHEEL=$(ls "$WHEELHOUSE"/mmcv-${MMCV_VERSION}-*.whl 2>/dev/null | head -1 || true)
if [ -z "$MMCV_WHEEL" ]; then
  echo "check_wheel: no mmcv ${MMCV_VERSION} wheel in $WHEELHOUSE; run 'make env' first" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cgh-wheel-check.XXXXXX")
[ "${KEEP_WHEEL_CHECK:-0}" = 1 ] || trap 'rm -rf "$TMP"' EXIT
unset PYTHONPATH  # the installed package, not the checkout, must be imported
start=$SECONDS
step() { echo "check_wheel [$((SECONDS - start)) s]: $*"; }
# pip's configured local indexes warn about every package they do not hold
pip_install() { "$VPY" -m pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; }

# 1. A fresh venv: setuptools at the pin of requirements/runtime.txt (it builds the wheel;
#    mmengine imports its pkg_resources, which setuptools 82 removed), torch and
#    torchvision (the user's choice, not declared).
step "creating a fresh venv"
"$PY" -m venv "$TMP/venv"
VPY=$TMP/venv/bin/python
pip_install -c requirements/runtime.txt setuptools torch torchvision

# 2. A wheel of what git tracks (a stale build/ folder in the checkout could add old
#    files), built without network access to a build backend.
step "building the wheel"
mkdir "$TMP/src"
git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$TMP/src"
(cd "$TMP/src" && "$VPY" -m pip wheel -q --no-deps --no-build-isolation . \
  -w "$TMP/dist")
WHEEL=$(ls "$TMP"/dist/cgh_mm-*.whl)
"$VPY" - "$WHEEL" <<'EOF'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
wanted = ['cgh_mm/.mim/configs/cgh/cgh_resnet18_1xb16-2e_synthetic.py',
          'cgh_mm/.mim/configs/_base_/default_runtime.py', 'cgh_mm/.mim/tools/train.py',
          'cgh_mm/.mim/model-index.yml']
missing = [name for name in wanted if name not in names]
if missing:
    sys.exit(f'check_wheel: {sys.argv[1]} lacks {missing} (MANIFEST.in, cgh_mm/.mim)')
EOF

# 3. The wheel, with the mmcv wheel of tools/setup_env.sh (CPU ops); everything else
#    comes from its Requires-Dist, at the versions requirements/runtime.txt pins.
step "installing $(basename "$WHEEL") (not editable)"
pip_install -c requirements/runtime.txt "$MMCV_WHEEL" "$WHEEL"
"$VPY" -m pip check

# 4. `pip show` lists every requirement of setup.cfg's install_requires.
step "checking pip show cgh-mm"
"$VPY" - "$REPO/setup.cfg" <<'EOF'
import configparser, re, subprocess, sys

cfg = configparser.ConfigParser()
cfg.read(sys.argv[1])
declared = {re.split(r'[<>=!~ ;\[]', line.strip())[0].lower().replace('_', '-')
            for line in cfg['options']['install_requires'].splitlines()
            if line.strip() and not line.strip().startswith('#')}
show = subprocess.run([sys.executable, '-m', 'pip', 'show', 'cgh-mm'], check=True,
                      capture_output=True, text=True).stdout
requires = next(line.split(':', 1)[1] for line in show.splitlines()
                if line.startswith('Requires:'))
listed = {name.strip().lower().replace('_', '-') for name in requires.split(',') if name.strip()}
missing = sorted(declared - listed)
if missing or not declared:
    sys.exit(f'check_wheel: pip show cgh-mm lists Requires: {sorted(listed)}, without '
             f'{missing} of setup.cfg install_requires')
print('pip show cgh-mm, Requires:', ', '.join(sorted(listed)))
EOF

# 5. From outside the repository: the packaged config through the packaged train tool.
step "pretraining from the packaged config"
mkdir "$TMP/run" && cd "$TMP/run"
MIM=$("$VPY" -c 'import cgh_mm, os.path as p; print(p.join(p.dirname(cgh_mm.__file__), ".mim"))')
case "$MIM" in "$TMP/venv/"*) ;; *) echo "check_wheel: cgh_mm imported from $MIM" >&2; exit 1;; esac
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$VPY" "$MIM/tools/train.py" \
  "$MIM/configs/cgh/cgh_resnet18_1xb16-2e_synthetic.py" --work-dir "$TMP/run/work" \
  --cfg-options train_cfg.max_epochs=1 default_hooks.checkpoint.interval=1 \
  > "$TMP/run/train.log" 2>&1 || { tail -40 "$TMP/run/train.log"; exit 1; }
# the checkpoint of the finished epoch, read back with the installed package
"$VPY" - "$TMP/run/work/epoch_1.pth" <<'EOF' || { tail -40 "$TMP/run/train.log"; exit 1; }
import sys

from cgh_mm.runtime import load_checkpoint_safely

meta = load_checkpoint_safely(sys.argv[1])['meta']
if meta['epoch'] != 1 or meta['iter'] < 1:
    sys.exit(f'check_wheel: {sys.argv[1]} is at epoch {meta["epoch"]}, iteration '
             f'{meta["iter"]}; the packaged pretraining did not finish its epoch')
print(f'pretrained from the packaged config: epoch {meta["epoch"]}, {meta["iter"]} iterations')
EOF
step "passed: the wheel installs, declares its requirements and pretrains"
