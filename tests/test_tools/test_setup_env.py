"""tools/setup_env.sh (and ``make env``, which runs it) build mmcv's CPU ops with CUDA
hidden from mmcv's build, also on a machine whose torch sees a GPU (a stand-in venv
python records how the build is called)."""
import re
import subprocess
import sys

import pytest

from .dist_helpers import REPO, write_stub

pytestmark = pytest.mark.slow

# The venv's python: `-c` checks say mmcv is missing (so the build runs) until the end,
# `pip wheel` records its environment and what torch says about CUDA in it (the condition
# of mmcv 2.1.0's setup.py: CUDA ops whenever torch.cuda.is_available()), then leaves a
# wheel in the wheelhouse.
FAKE_VENV_PYTHON = r'''#!/usr/bin/env bash
case "$*" in
  *"pip wheel"*)
    prev=
    for arg in "$@"; do [ "$prev" = -w ] && wheelhouse=$arg; prev=$arg; done
    {
      echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-<unset>}"
      echo "FORCE_CUDA=${FORCE_CUDA-<unset>}"
      echo "MMCV_WITH_OPS=${MMCV_WITH_OPS-<unset>}"
      cuda=$("$REAL_PYTHON" -c 'import torch; print(torch.cuda.is_available())')
      echo "torch.cuda.is_available=$cuda"
      echo "args=$*"
    } > "$BUILD_LOG"
    touch "$wheelhouse/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl" ;;
  *"assert mmcv.__version__"*) exit 1 ;;
esac
exit 0
'''


def build_environment(log: str) -> dict:
    return dict(re.findall(r'^([\w.]+)=(.*)$', log, flags=re.M))


@pytest.mark.parametrize('entry', ['setup_env.sh', 'make env'])
def test_mmcv_is_built_with_cpu_ops_and_cuda_hidden_from_its_build(tmp_path, entry):
    venv = tmp_path / 'venv'
    write_stub(venv / 'bin' / 'python', FAKE_VENV_PYTHON)
    log = tmp_path / 'build.txt'
    env = dict(PATH='/usr/bin:/bin', HOME=str(tmp_path), REAL_PYTHON=sys.executable,
               BUILD_LOG=str(log), MMCV_WHEELHOUSE=str(tmp_path / 'wheelhouse'),
               # as on a GPU node (Slurm and docker --gpus set it): torch sees GPU 0
               CUDA_VISIBLE_DEVICES='0')
    command = ([str(REPO / 'tools' / 'setup_env.sh')] if entry == 'setup_env.sh' else
               ['make', '-C', str(REPO), 'env', f'VENV={venv}'])
    env['VENV'] = str(venv)
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = build_environment(log.read_text())
    # mmcv's setup.py builds CUDA ops whenever torch sees a GPU, whatever FORCE_CUDA says
    assert built['CUDA_VISIBLE_DEVICES'] == '' and built['torch.cuda.is_available'] == 'False'
    assert built['FORCE_CUDA'] == '0' and built['MMCV_WITH_OPS'] == '1'
    assert 'mmcv==2.1.0' in built['args']
    assert list((tmp_path / 'wheelhouse').glob('torch*/mmcv-2.1.0-*.whl'))
    if entry == 'make env':
        assert (venv / '.ready').exists()
