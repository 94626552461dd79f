"""tools/train.py in real subprocesses: exact resume after SIGKILL, kill during a save."""
import importlib.util
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config

from cgh_mm.utils import find_last_complete_checkpoint, load_checkpoint_safely
from tests.small_runs import small_backbone_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
CONFIG = osp.join(ROOT, 'configs', 'cgh', 'cgh_resnet18_1xb16-2e_synthetic.py')
# 3 epochs of 4 iterations; a checkpoint every 3 iterations: iter_6 and iter_9 are mid-epoch.
SHORT_RUN = [
    'train_cfg.max_epochs=3', 'default_hooks.checkpoint.interval=3',
    'default_hooks.checkpoint.by_epoch=False', 'default_hooks.checkpoint.max_keep_ckpts=1',
    'log_processor.window_size=1', 'randomness.deterministic=True', *small_backbone_options()
]
LOSS_TERMS = ('loss', 'loss_nce', 'loss_hyper', 'loss_global', 'alpha')
TIMEOUT_S = 300
# One thread each: the runs share two cores, and every run must use the same
# thread count to be bit-for-bit repeatable.
ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def train_command(work_dir, *cfg_options: str, resume: bool = False) -> List[str]:
    return [sys.executable, TRAIN, CONFIG, '--work-dir', str(work_dir),
            *(['--resume'] if resume else []), '--cfg-options', *SHORT_RUN, *cfg_options]


def run_train(work_dir, resume: bool = False) -> None:
    done = subprocess.run(train_command(work_dir, resume=resume), capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]


def start_and_kill_when(work_dir, ready, *, command=None) -> subprocess.Popen:
    """Start training, SIGKILL it as soon as ``ready()`` holds; fail if it ended first."""
    proc = subprocess.Popen(command or train_command(work_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + TIMEOUT_S
    while not ready():
        assert proc.poll() is None, f'training ended before the kill: {proc.stderr.read()[-3000:]}'
        assert time.monotonic() < deadline, 'timed out waiting for the kill point'
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return proc


def logged_steps(run_dir) -> Dict[int, dict]:
    """Step -> logged scalars of one run (the newest timestamped log of ``run_dir``)."""
    logs = sorted(p for p in os.listdir(run_dir) if osp.isdir(osp.join(run_dir, p)))
    with open(osp.join(run_dir, logs[-1], 'vis_data', 'scalars.json')) as f:
        return {row['step']: row for row in map(json.loads, f)}


def test_resume_after_sigkill_mid_epoch_is_exact(tmp_path):
    reference, killed = tmp_path / 'reference', tmp_path / 'killed'
    # The uninterrupted run saves only at the end (saving must not change
    # training); it runs beside the killed one to save time.
    uninterrupted = subprocess.Popen(
        train_command(reference, 'default_hooks.checkpoint.interval=12'),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)

    start_and_kill_when(killed, lambda: osp.isfile(killed / 'iter_6.pth'))
    resume_from = find_last_complete_checkpoint(str(killed))
    resumed_iter = load_checkpoint_safely(resume_from)['meta']['iter']
    assert resumed_iter % 4 != 0, 'the kill should land mid-epoch'
    run_train(killed, resume=True)
    _, stderr = uninterrupted.communicate(timeout=TIMEOUT_S)
    assert uninterrupted.returncode == 0, stderr[-3000:]

    expected, got = logged_steps(reference), logged_steps(killed)
    assert sorted(got) == list(range(resumed_iter + 1, 13))
    for step, row in got.items():
        assert row['epoch'] == expected[step]['epoch'], step
        for term in LOSS_TERMS:
            assert row[term] == pytest.approx(expected[step][term], abs=1e-6), (step, term)

    final_expected = load_checkpoint_safely(str(reference / 'iter_12.pth'))
    final_got = load_checkpoint_safely(str(killed / 'iter_12.pth'))
    state_expected, state_got = final_expected['state_dict'], final_got['state_dict']
    compared = [k for k in state_expected
                if k.startswith(('teacher.', 'global_queue', 'hypercolumn_queue',
                                 'queue_ptr', 'alpha'))]
    assert 'teacher.steps' in compared and len(compared) > 100
    for key in compared:
        assert torch.equal(state_got[key], state_expected[key]), key
    assert int(state_got['queue_ptr']) == 12 * 16 % 256
    assert final_got['meta']['iter'] == 12


def test_kill_during_save_keeps_the_previous_checkpoint(tmp_path):
    work_dir = tmp_path / 'run'
    marker = tmp_path / 'writing'
    # Slow down every file write of the checkpoint backend and say when the
    # second save (iteration 6) is half-way through it.
    script = tmp_path / 'slow_save_train.py'
    script.write_text(f'''
import runpy, sys, time
from mmengine.fileio import LocalBackend

saves = []

def slow_put(self, obj, filepath):
    saves.append(filepath)
    with open(filepath, 'wb') as f:
        half = len(obj) // 2
        f.write(obj[:half])
        f.flush()
        if len(saves) == 2:
            open({str(marker)!r}, 'w').close()
            time.sleep(60)
        f.write(obj[half:])

LocalBackend.put = slow_put
sys.argv = {train_command(work_dir)[1:]!r}
runpy.run_path(sys.argv[0], run_name='__main__')
''')
    start_and_kill_when(work_dir, marker.exists, command=[sys.executable, str(script)])

    partial = work_dir / '.iter_6.pth.partial'
    assert partial.is_file() and not (work_dir / 'iter_6.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'iter_3.pth')
    # max_keep_ckpts=1, yet the older checkpoint is still there, whole
    previous = load_checkpoint_safely(str(work_dir / 'iter_3.pth'))
    assert previous['meta']['iter'] == 3
    assert find_last_complete_checkpoint(str(work_dir)) == str(work_dir / 'iter_3.pth')

    # mmengine's pointer can name a cut-short file (e.g. one overwritten in
    # place by an interrupted save): --resume then takes the last whole one.
    os.replace(partial, work_dir / 'iter_6.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_6.pth'))
    assert find_last_complete_checkpoint(str(work_dir)) == str(work_dir / 'iter_3.pth')
    with pytest.raises(RuntimeError, match='truncated'):
        load_checkpoint_safely(str(work_dir / 'iter_6.pth'))


def load_train_tool():
    spec = importlib.util.spec_from_file_location('train_tool', TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def merged_config(monkeypatch, *argv: str):
    tool = load_train_tool()
    monkeypatch.setattr(sys, 'argv', [TRAIN, CONFIG, *argv])
    return tool.merge_args(Config.fromfile(CONFIG), tool.parse_args())


def test_resume_arguments(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r'--resume .*nope.pth: no such checkpoint'):
        merged_config(monkeypatch, '--resume', str(tmp_path / 'nope.pth'))

    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path), '--resume')
    assert cfg.resume is False and cfg.load_from is None  # nothing to resume: from scratch
    assert cfg.train_cfg.type == 'mmpretrain.ResumableEpochBasedTrainLoop'

    torch.save(dict(meta={}), tmp_path / 'epoch_1.pth')
    (tmp_path / 'epoch_2.pth').write_bytes(b'PK cut short')
    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path), '--resume')
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'epoch_1.pth')


def test_resumable_loop_resolves_in_mmdet_and_mmseg_scopes(tmp_path, monkeypatch):
    """Downstream configs run through tools/train.py build loops in their own scope."""
    from mmengine.registry import LOOPS, init_default_scope
    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path))
    for scope in ('mmdet', 'mmseg', 'mmpretrain'):
        __import__(f'{scope}.registry')
        init_default_scope(scope)
        assert LOOPS.get(cfg.train_cfg.type).__name__ == 'ResumableEpochBasedTrainLoop', scope
    init_default_scope('mmpretrain')
