"""tools/train.py in real subprocesses: exact resume after SIGKILL, kill during a save."""
import errno
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

from cgh_mm.runtime import load_checkpoint_safely
from tests.helpers import NARROW_OPTIONS, load_tool, raises_stating, run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
CONFIG = osp.join(ROOT, 'configs', 'cgh', 'cgh_resnet18_1xb16-2e_synthetic.py')
# 3 epochs of 4 iterations; a checkpoint every 3 iterations: iter_6 and iter_9 are mid-epoch.
SHORT_RUN = [
    'train_cfg.max_epochs=3', 'default_hooks.checkpoint.interval=3',
    'default_hooks.checkpoint.by_epoch=False', 'default_hooks.checkpoint.max_keep_ckpts=1',
    'log_processor.window_size=1', 'randomness.deterministic=True', *NARROW_OPTIONS
]
LOSS_TERMS = ('loss', 'loss_nce', 'loss_hyper', 'loss_global', 'alpha', 'health/hyper_kl')
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


@pytest.mark.slow
def test_resume_after_sigkill_mid_epoch_is_exact(tmp_path):
    reference, killed = tmp_path / 'reference', tmp_path / 'killed'
    # The uninterrupted run saves only at the end (saving must not change
    # training); it runs beside the killed one to save time.
    uninterrupted = subprocess.Popen(
        train_command(reference, 'default_hooks.checkpoint.interval=12'),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)

    start_and_kill_when(killed, lambda: osp.isfile(killed / 'iter_6.pth'))
    resume_from = find_latest_checkpoint(str(killed))  # what --resume reads
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
                if k.startswith(('teacher.', 'global_queue', 'hypercolumn_queue', 'queue_ptr'))]
    assert 'teacher.steps' in compared and len(compared) > 100
    for key in compared:
        assert torch.equal(state_got[key], state_expected[key]), key
    assert int(state_got['queue_ptr']) == 12 * 16 % 64
    assert final_got['meta']['iter'] == 12


@pytest.mark.slow
def test_kill_during_save_keeps_the_previous_checkpoint(tmp_path):
    work_dir = tmp_path / 'run'
    marker = tmp_path / 'writing'
    # Stall the second checkpoint save (iteration 6) when its bytes are written but not
    # yet renamed into place, and say so.
    script = tmp_path / 'slow_save_train.py'
    script.write_text(f'''
import os, runpy, sys, time

fsync, saves = os.fsync, []

def slow_fsync(fd):
    name = os.path.basename(os.readlink(f'/proc/self/fd/{{fd}}'))
    if '.pth.' in name and name.endswith('.partial'):
        saves.append(fd)
        if len(saves) == 2:
            open({str(marker)!r}, 'w').close()
            time.sleep(60)
    fsync(fd)

os.fsync = slow_fsync
sys.argv = {train_command(work_dir)[1:]!r}
runpy.run_path(sys.argv[0], run_name='__main__')
''')
    start_and_kill_when(work_dir, marker.exists, command=[sys.executable, str(script)])

    assert len(list(work_dir.glob('.iter_6.pth.*.partial'))) == 1  # SIGKILL: no clean-up
    assert not (work_dir / 'iter_6.pth').exists()
    assert find_latest_checkpoint(str(work_dir)) == str(work_dir / 'iter_3.pth')
    # max_keep_ckpts=1, yet the older checkpoint is still there, whole
    assert load_checkpoint_safely(str(work_dir / 'iter_3.pth'))['meta']['iter'] == 3
    run_train(work_dir, resume=True)  # and --resume continues from it
    assert load_checkpoint_safely(str(work_dir / 'iter_12.pth'))['meta']['iter'] == 12
    # the next run in the work dir (its lock held: no writer alive) removed the leftover
    assert not list(work_dir.glob('.*.partial'))


@pytest.mark.slow
def test_a_work_dir_in_use_is_refused_and_a_killed_holder_frees_it(tmp_path, monkeypatch):
    # Two runs in one work dir overwrote each other's checkpoints and shared a log dir.
    tool = load_train_tool()
    work_dir = str(tmp_path / 'run')
    holder = tool.lock_work_dir(work_dir)
    try:
        with pytest.raises(SystemExit) as info:  # a second training, before its Runner
            run_tool(TRAIN, CONFIG, '--work-dir', work_dir)
        message = str(info.value)  # the folder, who holds it, the fix
        assert work_dir in message and f'pid {os.getpid()}' in message
        assert '--work-dir' in message
        assert not [p for p in os.listdir(work_dir) if p != '.lock']  # no log, no checkpoint
    finally:
        os.close(holder)
    # a run killed while holding the lock leaves nothing stuck behind
    proc = subprocess.Popen([sys.executable, '-c', (
        'import fcntl, os, sys, time\n'
        f'fd = os.open({work_dir + "/.lock"!r}, os.O_RDWR)\n'
        'fcntl.flock(fd, fcntl.LOCK_EX)\n'
        'print("locked", flush=True)\n'
        'time.sleep(60)\n')], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == 'locked\n'
    with raises_stating(SystemExit, work_dir, '--work-dir'):
        tool.lock_work_dir(work_dir)
    proc.kill()
    proc.wait(timeout=30)
    os.close(tool.lock_work_dir(work_dir))
    # other ranks of a job leave the lock to rank 0
    monkeypatch.setenv('RANK', '1')
    assert tool.lock_work_dir(work_dir, 'pytorch') is None


def train_tool(work_dir, *cfg_options: str, resume: bool = False) -> subprocess.CompletedProcess:
    """tools/train.py on the narrow synthetic run (epoch checkpoints)."""
    return subprocess.run([sys.executable, TRAIN, CONFIG, '--work-dir', str(work_dir),
                           *(['--resume'] if resume else []), '--cfg-options',
                           *NARROW_OPTIONS, *cfg_options],
                          capture_output=True, text=True, timeout=TIMEOUT_S, env=ENV)


def file_bytes(folder) -> Dict[str, bytes]:
    """The files of a work dir but its lock (a refused run takes it, then exits)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and p.name != '.lock'}


@pytest.mark.slow
def test_resume_never_overwrites_loads_another_folder_or_mixes_settings(tmp_path):
    run = tmp_path / 'run'
    done = train_tool(run, 'train_cfg.max_epochs=2')
    assert done.returncode == 0, done.stderr[-3000:]

    # only the checkpoints copied: refused with their list, nothing rewritten
    bare = tmp_path / 'bare'
    bare.mkdir()
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        shutil.copy(run / name, bare / name)
    before = file_bytes(bare)
    done = train_tool(bare, 'train_cfg.max_epochs=3', resume=True)
    assert done.returncode != 0
    assert 'epoch_1.pth' in done.stderr and 'epoch_2.pth' in done.stderr
    assert file_bytes(bare) == before

    # a moved work dir resumes from its own checkpoint (the old folder is gone)
    moved = tmp_path / 'moved'
    shutil.move(str(run), str(moved))
    done = train_tool(moved, 'train_cfg.max_epochs=3', resume=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f'resuming from {moved / "epoch_2.pth"}' in done.stdout
    assert load_checkpoint_safely(str(moved / 'epoch_3.pth'))['meta']['epoch'] == 3
    assert (moved / 'last_checkpoint').read_text() == str(moved / 'epoch_3.pth')

    # another seed and another ablation on resume: refused before training, named, and
    # before the Runner rewrites the work dir's config
    before = file_bytes(moved)
    done = train_tool(moved, 'train_cfg.max_epochs=4', 'randomness.seed=5',
                      'model.head.teaching=same', resume=True)
    assert done.returncode != 0
    for fact in ('randomness.seed: 0 -> 5', "model.head.teaching: 'cross' (default) -> 'same'",
                 'resume_may_change=[randomness.seed,model.head.teaching]'):
        assert fact in done.stderr, fact
    assert file_bytes(moved) == before

    # a fresh start over the checkpoints: refused before anything is written
    before = file_bytes(moved)
    done = train_tool(moved, 'train_cfg.max_epochs=1')
    assert done.returncode != 0 and '--resume' in done.stderr
    assert file_bytes(moved) == before


def test_an_unwritable_work_dir_is_refused_with_the_fix(tmp_path, monkeypatch):
    tool = load_train_tool()

    def read_only(path, flags, mode=0o777):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(tool.os, 'open', read_only)
    with raises_stating(SystemExit, tmp_path, os.strerror(errno.EROFS), '.lock', '--work-dir'):
        tool.lock_work_dir(str(tmp_path))


def test_partial_files_of_a_killed_save_are_removed_from_the_checkpoint_folder(tmp_path,
                                                                              monkeypatch):
    # With the checkpoint hook's out_dir, checkpoints are written to OUT_DIR/<work dir name>.
    from mmengine.runner import Runner

    class StartedError(Exception):
        pass

    def start(cfg):
        raise StartedError

    work_dir, folder = tmp_path / 'run', tmp_path / 'ckpts' / 'run'
    leftovers = [work_dir / '.last_checkpoint.7-0a1b2c3d.partial',
                 folder / '.epoch_2.pth.7-0a1b2c3d.partial', folder / '.write_test.7.partial']
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'cut short')
    (folder / 'notes.txt').write_text('kept')
    monkeypatch.setattr(Runner, 'from_cfg', start)
    with pytest.raises(StartedError):  # the leftovers are gone before the Runner starts
        run_tool(TRAIN, CONFIG, '--work-dir', work_dir, '--cfg-options',
                 f'default_hooks.checkpoint.out_dir={tmp_path / "ckpts"}')
    assert [path for path in leftovers if path.exists()] == []
    assert (folder / 'notes.txt').read_text() == 'kept'


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal without a GPU')
def test_amp_without_a_gpu_is_refused_before_the_model_is_built(tmp_path, monkeypatch):
    from mmengine.runner import Runner

    monkeypatch.setattr(Runner, 'from_cfg', lambda cfg: pytest.fail('the Runner was built'))
    for option in (['--amp'], ['--cfg-options', 'optim_wrapper.type=AmpOptimWrapper']):
        with raises_stating(SystemExit, '--amp', 'AmpOptimWrapper', 'GPU'):
            run_tool(TRAIN, CONFIG, '--work-dir', tmp_path, *option)


def load_train_tool():
    return load_tool(TRAIN, 'train_tool')


def merged_config(monkeypatch, *argv: str):
    tool = load_train_tool()
    monkeypatch.setattr(sys, 'argv', [TRAIN, CONFIG, *argv])
    return tool.merge_args(Config.fromfile(CONFIG), tool.parse_args())


def test_resume_arguments(tmp_path, monkeypatch, capsys):
    tool = load_train_tool()
    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path), '--resume')
    assert cfg.resume is True and cfg.load_from is None  # mmengine's lookup in the work dir
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'  # the config's, untouched
    tool.check_resume(cfg)
    assert cfg.load_from is None  # nothing to resume: a fresh start, said with the folder
    out = capsys.readouterr().out
    assert str(tmp_path) in out and 'scratch' in out

    cfg = merged_config(monkeypatch, '--resume', str(tmp_path / 'nope.pth'))
    with raises_stating(SystemExit, tmp_path / 'nope.pth', '--resume'):
        tool.check_resume(cfg)

    # the newest checkpoint is cut short: named, with the ones to use instead
    torch.save(dict(meta={}), tmp_path / 'epoch_1.pth')
    (tmp_path / 'epoch_2.pth').write_bytes(b'PK cut short')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path), '--resume')
    with pytest.raises(SystemExit) as info:
        tool.check_resume(cfg)
    assert 'epoch_2.pth' in str(info.value) and 'truncated' in str(info.value)
    assert str(tmp_path / 'epoch_1.pth') in str(info.value)  # the one to resume from instead


def test_cfg_options_with_spaces_are_refused(monkeypatch, capsys):
    # a relative path has no '/': it passed, and failed later as `myimgs/`
    for value in ('train_dataloader.dataset.data_root=my imgs', 'experiment_name=my run',
                  'load_from=/data/my run/epoch_1.pth'):
        with pytest.raises(SystemExit):
            merged_config(monkeypatch, '--cfg-options', value)
        error = capsys.readouterr().err
        # the option as given, what mmengine would make of it, and a way around
        assert repr(value) in error and repr(value.split('=')[1].replace(' ', '')) in error
        assert 'ln -s' in error
    # spaces beside the commas of a tuple are not lost
    cfg = merged_config(monkeypatch, '--cfg-options', 'model.backbone.out_indices=(2, 3)')
    assert cfg.model.backbone.out_indices == (2, 3)


def test_auto_scale_lr_needs_the_config_key(monkeypatch):
    with raises_stating(ValueError, '--auto-scale-lr', CONFIG, 'auto_scale_lr = dict(',
                        'base_batch_size'):
        merged_config(monkeypatch, '--auto-scale-lr')


@pytest.mark.slow
def test_tensorboard_flag_logs_to_tensorboard(tmp_path, monkeypatch):
    from mmengine.runner import Runner

    cfg = merged_config(monkeypatch, '--tensorboard', '--work-dir', str(tmp_path),
                        '--cfg-options', 'train_cfg.max_epochs=1', *NARROW_OPTIONS)
    assert [b['type'] for b in cfg.visualizer.vis_backends] == ['LocalVisBackend',
                                                                'TensorboardVisBackend']
    cfg.experiment_name = f'tensorboard_{os.getpid()}'
    Runner.from_cfg(cfg).train()
    events = list(tmp_path.glob('*/vis_data/events.out.tfevents.*'))
    assert events and events[0].stat().st_size > 0


def save_checkpoints(folder, *names, last=None):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        torch.save(dict(meta=dict(written_in=str(folder))), folder / name)
    if last:
        (folder / 'last_checkpoint').write_text(str(folder / last))


def test_resume_without_last_checkpoint_lists_the_checkpoints(tmp_path, monkeypatch):
    # only the .pth files were copied: --resume trained from scratch over them
    save_checkpoints(tmp_path, 'epoch_1.pth', 'epoch_2.pth')
    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path), '--resume')
    with raises_stating(SystemExit, 'epoch_1.pth', 'epoch_2.pth', 'last_checkpoint',
                        f'--resume {tmp_path / "epoch_2.pth"}'):
        load_train_tool().check_resume(cfg)


def test_a_copied_work_dir_resumes_from_its_own_checkpoint(tmp_path, monkeypatch, capsys):
    old, new = tmp_path / 'old', tmp_path / 'new'
    save_checkpoints(old, 'epoch_1.pth', 'epoch_2.pth', last='epoch_2.pth')
    shutil.copytree(old, new)
    save_checkpoints(old, 'epoch_2.pth')  # the old folder is reused by another run
    tool = load_train_tool()
    cfg = merged_config(monkeypatch, '--work-dir', str(new), '--resume')
    tool.check_resume(cfg)
    assert cfg.load_from == str(new / 'epoch_2.pth')  # what the Runner resumes from
    assert str(old / 'epoch_2.pth') in capsys.readouterr().out  # said, not silent
    # without a copy of its own, another folder's checkpoint is loaded only by its path
    (new / 'epoch_2.pth').unlink()
    cfg = merged_config(monkeypatch, '--work-dir', str(new), '--resume')
    with raises_stating(SystemExit, old / 'epoch_2.pth', 'epoch_1.pth', '--resume'):
        tool.check_resume(cfg)


def test_training_from_scratch_over_checkpoints_is_refused(tmp_path, monkeypatch):
    tool = load_train_tool()
    save_checkpoints(tmp_path, 'epoch_1.pth', last='epoch_1.pth')
    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path))
    with raises_stating(SystemExit, 'epoch_1.pth', '--resume', '--work-dir'):
        tool.check_resume(cfg)
    # files a run does not write are no reason to refuse it
    (tmp_path / 'epoch_1.pth').rename(tmp_path / 'backbone.pth')
    (tmp_path / 'last_checkpoint').unlink()
    tool.check_resume(merged_config(monkeypatch, '--work-dir', str(tmp_path)))
    save_checkpoints(tmp_path, 'iter_3.pth')  # by the names of iteration checkpoints too
    cfg = merged_config(monkeypatch, '--work-dir', str(tmp_path), '--cfg-options',
                        'default_hooks.checkpoint.by_epoch=False')
    with raises_stating(SystemExit, 'iter_3.pth'):
        tool.check_resume(cfg)
