import errno
import os
from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import Runner

import cgh_mm.runtime.atomic_local_backend as backend_module
import cgh_mm.runtime.checkpoint as checkpoint_module
from cgh_mm.runtime import load_checkpoint_safely, write_file_atomically
from cgh_mm.runtime.hooks import atomic_checkpoint_hook as module
from tests.helpers import tiny_runner_cfg

pytestmark = pytest.mark.slow


def test_full_disk_names_the_last_good_checkpoint_and_leaves_no_partial(tmp_path, monkeypatch):
    cfg = tiny_runner_cfg(tmp_path, max_epochs=2)
    cfg.default_hooks.checkpoint.update(interval=1, by_epoch=False, max_keep_ckpts=1)
    checkpoints = []

    def no_space(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    def full_disk_at_the_second_checkpoint(path, data):
        if path.endswith('.pth'):
            checkpoints.append(path)
        if len(checkpoints) == 2:  # the bytes are written, flushing them to disk fails
            monkeypatch.setattr('os.fsync', no_space)
        write_file_atomically(path, data)

    monkeypatch.setattr(backend_module, 'write_file_atomically',
                        full_disk_at_the_second_checkpoint)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(OSError) as info:
        runner.train()
    assert info.value.errno == errno.ENOSPC
    message = str(info.value)
    assert 'iter_2.pth' in message and 'MiB' in message
    assert str(tmp_path / 'iter_1.pth') in message  # the last good one
    # max_keep_ckpts=1: the old checkpoint is kept because the new one never landed
    assert load_checkpoint_safely(str(tmp_path / 'iter_1.pth'))['meta']['iter'] == 1
    assert not (tmp_path / 'iter_2.pth').exists()
    assert not list(tmp_path.glob('.*.partial'))
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_1.pth')


def test_an_unwritable_out_dir_is_refused_before_the_first_iteration(tmp_path, monkeypatch):
    read_only = tmp_path / 'mnt'
    cfg = tiny_runner_cfg(tmp_path / 'run', max_epochs=2)
    cfg.default_hooks.checkpoint.out_dir = str(read_only)

    def read_only_mount(path, mode):  # what a read-only mount answers
        if str(path).startswith(str(read_only)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return open(path, mode)

    monkeypatch.setattr(checkpoint_module, 'open', read_only_mount, raising=False)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(OSError) as info:
        runner.train()
    message = str(info.value)
    assert info.value.errno == errno.EROFS
    assert str(read_only / 'run') in message and 'out_dir' in message
    assert os.strerror(errno.EROFS) in message
    assert 'MiB' not in message  # no disk space figures: space is not the problem
    assert not runner.message_hub.get_info('iter')  # no compute was spent


def test_a_moved_work_dir_keeps_to_its_own_last_and_best_checkpoints(tmp_path):
    # A resumed run takes the paths its checkpoint recorded: after a copy, those of the
    # folder it was copied from. A new best checkpoint removed that folder's best one, and
    # a failed save named that folder's last checkpoint as the last good one.
    old, new = tmp_path / 'old', tmp_path / 'new'
    for folder in (old, new):
        folder.mkdir()
        for name in ('epoch_2.pth', 'best_knn_top1_epoch_1.pth'):
            (folder / name).write_bytes(b'checkpoint')
    hub = MessageHub.get_instance(f'moved_work_dir_{os.getpid()}')
    hub.update_info('last_ckpt', str(old / 'epoch_2.pth'))
    hub.update_info('best_ckpt', str(old / 'best_knn_top1_epoch_1.pth'))
    hook = module.AtomicCheckpointHook(interval=1, save_best='knn/top1', rule='greater')
    runner = SimpleNamespace(work_dir=str(new), message_hub=hub,
                             logger=MMLogger.get_current_instance())
    hook.before_train(runner)
    assert hook.best_ckpt_path == str(new / 'best_knn_top1_epoch_1.pth')
    assert hub.get_info('best_ckpt') == str(new / 'best_knn_top1_epoch_1.pth')
    assert hub.get_info('last_ckpt') == str(new / 'epoch_2.pth')
    # without a copy here, the last good checkpoint stays named where it is
    (new / 'epoch_2.pth').unlink()
    hub.update_info('last_ckpt', str(old / 'epoch_2.pth'))
    hook.before_train(runner)
    assert hub.get_info('last_ckpt') == str(old / 'epoch_2.pth')
