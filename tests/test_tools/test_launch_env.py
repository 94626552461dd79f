"""The launch scripts of tools/ find the project's Python one way (tools/launch_env.sh)."""
import os
import shutil
import subprocess

import pytest

from .dist_helpers import REPO, write_stub

pytestmark = pytest.mark.slow

LAUNCHES = {
    'tools/dist_train.sh': ['c.py', '2'],
    'tools/dist_test.sh': ['c.py', 'ckpt.pth', '2'],
    'tools/slurm_train.sh': ['gpu', 'job', 'c.py', 'work'],
    'tools/benchmarks/mmdetection/dist_train_c4.sh': ['c.py', 'cgh.pth', '2'],
    'tools/benchmarks/mmdetection/dist_train_fpn.sh': ['c.py', 'cgh.pth', '2'],
    'tools/benchmarks/mmsegmentation/dist_train.sh': ['c.py', 'cgh.pth', '2'],
}


@pytest.fixture
def checkout(tmp_path):
    """The launch scripts in a checkout of their own, with stand-ins for `python` on
    PATH, the checkout's .venv/bin/python, a $PYTHON and srun."""
    repo = tmp_path / 'repo'
    shutil.copytree(REPO / 'tools', repo / 'tools',
                    ignore=shutil.ignore_patterns('*.py', '__pycache__'))
    stubs = dict(path=tmp_path / 'bin' / 'python', venv=repo / '.venv' / 'bin' / 'python',
                 own=tmp_path / 'own' / 'python', srun=tmp_path / 'bin' / 'srun')
    for stub in stubs.values():
        write_stub(stub)
    return repo, stubs


def launch(repo, script, args, cwd, **env):
    calls = cwd / 'calls.txt'
    env = dict({k: v for k, v in os.environ.items() if k not in ('PYTHON', 'PYTHONPATH')},
               PATH=f'{cwd / "bin"}:/usr/bin:/bin', CALLS=str(calls), **env)
    proc = subprocess.run(['bash', str(repo / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    return proc, calls.read_text() if calls.exists() else ''


@pytest.mark.parametrize('script', sorted(LAUNCHES))
def test_every_script_finds_the_same_python(checkout, tmp_path, script):
    repo, stubs = checkout
    def others(chosen):
        return [str(p) for k, p in stubs.items() if k not in (chosen, 'srun')]

    # the checkout's .venv when it exists and PYTHON is not set
    proc, calls = launch(repo, script, LAUNCHES[script], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert str(stubs['venv']) in calls and not any(p in calls for p in others('venv'))
    assert f'PYTHONPATH={repo}' in calls
    if 'slurm' not in script:
        assert '-m\ntorch.distributed.run\n' in calls
    # $PYTHON first
    (tmp_path / 'calls.txt').unlink()
    proc, calls = launch(repo, script, LAUNCHES[script], tmp_path, PYTHON=str(stubs['own']))
    assert str(stubs['own']) in calls and not any(p in calls for p in others('own'))
    # without .venv: python from PATH (srun looks it up on the nodes)
    (tmp_path / 'calls.txt').unlink()
    shutil.rmtree(repo / '.venv')
    proc, calls = launch(repo, script, LAUNCHES[script], tmp_path)
    found = '\npython\n-u\n' if 'slurm' in script else f'CALL {stubs["path"]}\n'
    assert found in calls and not any(p in calls for p in others('path'))


def test_usage_without_arguments(checkout, tmp_path):
    repo, _ = checkout
    for script in LAUNCHES:
        proc, calls = launch(repo, script, [], tmp_path)
        assert proc.returncode == 2 and calls == '', script
        assert proc.stderr.startswith(f'usage: {repo / script} ') and \
            'arguments...]' in proc.stderr, script
