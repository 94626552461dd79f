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


# A venv python that keeps what is installed as files in $STATE: `mmcv-ops` (a compiled
# mmcv), `mmcv-lite`; it logs every call. Installing the compiled wheel over mmcv-lite
# fails, as it would leave two distributions owning the same files.
STATEFUL_VENV_PYTHON = r'''#!/usr/bin/env bash
echo "$*" >> "$STATE/calls"
case "$*" in
  *"pip wheel"*)
    prev=
    for arg in "$@"; do [ "$prev" = -w ] && wheelhouse=$arg; prev=$arg; done
    touch "$wheelhouse/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl" ;;
  *"import mmcv, mmcv.ops"*) [ -f "$STATE/mmcv-ops" ] || exit 1 ;;
  *"pip show -q mmcv-lite"*) [ -f "$STATE/mmcv-lite" ] || exit 1 ;;
  *"pip install -q mmcv-lite==2.1.0"*) touch "$STATE/mmcv-lite" ;;
  *"pip uninstall -q -y mmcv-lite"*) rm "$STATE/mmcv-lite" ;;
  *"pip install -q --no-deps "*"/mmcv-2.1.0-"*)
    [ ! -f "$STATE/mmcv-lite" ] || exit 3
    touch "$STATE/mmcv-ops" ;;
esac
exit 0
'''


def make(tmp_path, target):
    venv, state = tmp_path / 'venv', tmp_path / 'state'
    state.mkdir(exist_ok=True)
    if not (venv / 'bin' / 'python').exists():
        write_stub(venv / 'bin' / 'python', STATEFUL_VENV_PYTHON)
    env = dict(PATH='/usr/bin:/bin', HOME=str(tmp_path), STATE=str(state),
               MMCV_WHEELHOUSE=str(tmp_path / 'wheelhouse'))
    proc = subprocess.run(['make', '-C', str(REPO), target, f'VENV={venv}'], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = (state / 'calls').read_text().splitlines()
    (state / 'calls').unlink()
    return calls, {p.name for p in state.iterdir()}


def test_make_demo_compiles_nothing_and_make_test_env_then_replaces_mmcv_lite(tmp_path):
    calls, installed = make(tmp_path, 'demo')
    assert not any('pip wheel' in c for c in calls)  # no mmcv compile
    assert installed == {'mmcv-lite'}
    assert any(c.endswith('tools/demo.py') for c in calls)  # then the demo runs
    assert (tmp_path / 'venv' / '.ready-demo').exists()

    calls, installed = make(tmp_path, 'env')  # what make test builds first
    assert installed == {'mmcv-ops'}
    uninstall = next(i for i, c in enumerate(calls) if 'uninstall -q -y mmcv-lite' in c)
    install = next(i for i, c in enumerate(calls) if '/mmcv-2.1.0-' in c and 'pip install' in c)
    assert uninstall < install
    # the full environment serves the demo as it is: nothing more to build
    calls, installed = make(tmp_path, 'demo')
    assert installed == {'mmcv-ops'} and not any('pip' in c for c in calls)


def test_demo_environment_keeps_a_compiled_mmcv(tmp_path):
    make(tmp_path, 'env')
    (tmp_path / 'venv' / '.ready-demo').unlink()  # e.g. a .venv built before .ready-demo
    calls, installed = make(tmp_path, 'demo')
    assert installed == {'mmcv-ops'} and not any('mmcv-lite' in c for c in calls)
