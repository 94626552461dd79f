"""tools/slurm_train.sh hands the right options to srun (a stand-in srun records them)."""
import subprocess

import pytest

from tests.helpers import load_tool

from .dist_helpers import REPO, TINY_CONFIG, tool_env, write_stub

pytestmark = pytest.mark.slow

FAKE_SRUN = '''#!/usr/bin/env bash
printf '%s\\n' "$@" > "$SRUN_LOG"
'''


def test_slurm_train_builds_the_srun_command(tmp_path):
    bin_dir = write_stub(tmp_path / 'bin' / 'srun', FAKE_SRUN).parent
    log = tmp_path / 'srun_args.txt'
    env = tool_env(GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='6',
                   SRUN_ARGS='--qos=high --time=10', SRUN_LOG=str(log))
    env['PATH'] = f'{bin_dir}:{env["PATH"]}'
    proc = subprocess.run(
        [str(REPO / 'tools' / 'slurm_train.sh'), 'gpu', 'cgh', str(TINY_CONFIG), 'work/cgh',
         '--amp', '--cfg-options', 'model.queue_len=4096'],
        env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    args = log.read_text().splitlines()
    assert args[:8] == ['-p', 'gpu', '--job-name=cgh', '--gres=gpu:8', '--ntasks=16',
                        '--ntasks-per-node=8', '--cpus-per-task=6', '--kill-on-bad-exit=1']
    assert args[8:10] == ['--qos=high', '--time=10']
    assert args[11:] == ['-u', str(REPO / 'tools' / 'train.py'), str(TINY_CONFIG),
                         '--work-dir=work/cgh', '--launcher=slurm', '--amp',
                         '--cfg-options', 'model.queue_len=4096']



def test_slurm_train_default_cpus_per_task_is_what_loader_sizing_checks(tmp_path):
    bin_dir = write_stub(tmp_path / 'bin' / 'srun', FAKE_SRUN).parent
    log = tmp_path / 'srun_args.txt'
    env = tool_env(SRUN_LOG=str(log))
    env.pop('CPUS_PER_TASK', None)
    env['PATH'] = f'{bin_dir}:{env["PATH"]}'
    proc = subprocess.run(
        [str(REPO / 'tools' / 'slurm_train.sh'), 'gpu', 'cgh', str(TINY_CONFIG), 'work/cgh'],
        env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    cpus = load_tool(REPO / 'tools' / 'analysis' / 'loader_sizing.py').slurm_cpus_per_task()
    assert f'--cpus-per-task={cpus}' in log.read_text().splitlines()
