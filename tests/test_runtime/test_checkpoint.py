import errno
import io
import json
import os
import pickle
import shutil
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

import cgh_mm.runtime.checkpoint as checkpoint_module
from cgh_mm.runtime import (
    AtomicWriteError,
    check_checkpoint_file,
    check_checkpoint_paths,
    checkpoint_folder,
    find_resume_checkpoint,
    load_checkpoint_safely,
    rebased_path,
    resume_of,
    write_file_atomically,
)
from tests.helpers import raises_stating


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_code_running_pickle_is_refused_with_a_clear_message(tmp_path):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1)), extra=_RunsCode(marker)), path)
    check_checkpoint_file(str(path))  # a whole file: the check unpickles nothing
    # the file, the global refused (os.system), and the fix: re-save as tensors
    with raises_stating(pickle.UnpicklingError, str(path), 'system', 'torch.save'):
        load_checkpoint_safely(str(path))
    assert not marker.exists()


def test_missing_empty_truncated_and_corrupt_files_are_named(tmp_path):
    with raises_stating(FileNotFoundError, str(tmp_path / 'nope.pth')):
        load_checkpoint_safely(str(tmp_path / 'nope.pth'))
    path = tmp_path / 'cut.pth'
    torch.save(dict(w=torch.arange(1000.)), path)
    whole = path.read_bytes()
    check_checkpoint_file(str(path))
    path.write_bytes(whole[:500])
    for check in (check_checkpoint_file, load_checkpoint_safely):
        with raises_stating(RuntimeError, str(path), 'truncated', '500 bytes', '--resume'):
            check(str(path))
    path.write_bytes(b'')
    with raises_stating(RuntimeError, str(path), '0 bytes', '--resume'):
        load_checkpoint_safely(str(path))


def test_cut_legacy_checkpoint_is_named(tmp_path):
    buffer = io.BytesIO()
    torch.save(dict(w=torch.ones(1000)), buffer, _use_new_zipfile_serialization=False)
    path = tmp_path / 'old.pth'
    path.write_bytes(buffer.getvalue()[:2000])
    with raises_stating(RuntimeError, str(path), '2000 bytes', 'truncated', '--resume'):
        load_checkpoint_safely(str(path))


@pytest.mark.parametrize('content, kind', [
    (json.dumps({'lr': 0.1}), 'JSON'),
    ('model:\n  type: CGH\n', 'YAML'),
    ('\x00\x01\x02binary', 'unknown format'),
])
def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path, content, kind):
    path = tmp_path / 'results.json'
    path.write_text(content)
    # the file, what it holds, and what to pass instead
    with raises_stating(RuntimeError, str(path), kind, 'torch.save'):
        load_checkpoint_safely(str(path))


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / 'sub' / 'f.txt'
    write_file_atomically(str(path), b'one')
    write_file_atomically(str(path), b'two')
    assert path.read_bytes() == b'two' and os.listdir(path.parent) == ['f.txt']


class _HalfWritingFile(io.FileIO):
    """A file on a disk that fills up half-way through the write."""

    def write(self, data):
        super().write(bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, 'No space left on device')


@pytest.mark.parametrize('failing', ['write', 'fsync'])
def test_full_disk_leaves_no_partial_file_and_says_why(tmp_path, monkeypatch, failing):
    path = tmp_path / 'epoch_2.pth'
    path.write_bytes(b'the previous checkpoint')
    if failing == 'write':
        monkeypatch.setattr(checkpoint_module, 'open', lambda p, mode: _HalfWritingFile(p, 'w'),
                            raising=False)
    else:
        def no_space(fd):
            raise OSError(errno.ENOSPC, 'No space left on device')
        monkeypatch.setattr(checkpoint_module.os, 'fsync', no_space)
    with pytest.raises(AtomicWriteError) as info:
        write_file_atomically(str(path), b'x' * 3 * 2**20)
    error = info.value
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert (error.path, error.needed) == (str(path), 3 * 2**20)
    assert error.free > 0
    # the file, the cause, what it needs, the fix, and that nothing was left behind
    for fact in (str(path), 'No space left on device', '3.0 MiB',
                 f'{error.free / 2**20:.1f} MiB', 'No partial file'):
        assert fact in str(error), fact
    assert os.listdir(tmp_path) == ['epoch_2.pth']  # no .epoch_2.pth.partial
    assert path.read_bytes() == b'the previous checkpoint'


@pytest.mark.parametrize('code, advice', [
    (errno.EROFS, '--work-dir'),
    (errno.EACCES, 'chmod'),
    (errno.EIO, 'another folder'),
])
def test_write_errors_other_than_space_give_their_own_advice(tmp_path, monkeypatch, code,
                                                             advice):
    def refused(path, mode):
        raise OSError(code, os.strerror(code), path)

    monkeypatch.setattr(checkpoint_module, 'open', refused, raising=False)
    with pytest.raises(AtomicWriteError) as info:
        write_file_atomically(str(tmp_path / 'epoch_1.pth'), b'x' * 100)
    message = str(info.value)
    assert info.value.errno == code and info.value.free is None
    assert str(tmp_path / 'epoch_1.pth') in message and os.strerror(code) in message
    assert advice in message and 'No partial file' in message
    assert 'MiB' not in message  # no disk space figures: space is not the problem


def test_an_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt  # Ctrl-C while the bytes go to disk

    monkeypatch.setattr(checkpoint_module.os, 'fsync', interrupted)
    with pytest.raises(KeyboardInterrupt):  # not turned into another error
        write_file_atomically(str(tmp_path / 'epoch_1.pth'), b'x' * 100)
    assert os.listdir(tmp_path) == []


def test_concurrent_writers_of_one_file_use_their_own_partial_files(tmp_path, monkeypatch):
    # Two runs saving iter_1.pth at once: with one shared partial name the second truncated
    # the first's file, renamed it away, and the first failed with "No such file".
    path = str(tmp_path / 'iter_1.pth')
    fsync = os.fsync

    def other_writer_meanwhile(fd):
        monkeypatch.setattr(checkpoint_module.os, 'fsync', fsync)
        write_file_atomically(path, b'second writer')
        fsync(fd)

    monkeypatch.setattr(checkpoint_module.os, 'fsync', other_writer_meanwhile)
    write_file_atomically(path, b'first writer')
    assert open(path, 'rb').read() == b'first writer'  # whole: the last rename wins
    assert os.listdir(tmp_path) == ['iter_1.pth']


def test_missing_checkpoint_in_a_config_names_the_key(tmp_path):
    cfg = Config(dict(model=dict(backbone=dict(
        type='ResNet', init_cfg=dict(type='StrictPretrained', checkpoint='work_dirs/none.pth')))))
    # the config key, its path, and how to set it
    with raises_stating(FileNotFoundError, 'work_dirs/none.pth',
                        '--cfg-options model.backbone.init_cfg.checkpoint='):
        check_checkpoint_paths(cfg)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'here.pth')
    torch.save({}, tmp_path / 'here.pth')
    check_checkpoint_paths(cfg)
    cfg.load_from = 'gone.pth'
    with raises_stating(FileNotFoundError, 'gone.pth', '--cfg-options load_from='):
        check_checkpoint_paths(cfg)
    cfg.resume = True  # tools/train.py's check_resume checks a resume's checkpoint
    check_checkpoint_paths(cfg)


def run_folder(path, *names, last=None):
    """A work dir holding small checkpoints ``names`` and a ``last_checkpoint`` naming
    ``last`` (absolute, as mmengine writes it) if given."""
    path.mkdir(parents=True, exist_ok=True)
    for name in names:
        torch.save(dict(meta=dict(name=str(path / name))), path / name)
    if last is not None:
        (path / 'last_checkpoint').write_text(str(path / last))
    return path


def test_resume_checkpoint_is_the_one_last_checkpoint_names(tmp_path):
    run = run_folder(tmp_path / 'run', 'epoch_1.pth', 'epoch_2.pth', last='epoch_1.pth')
    assert find_resume_checkpoint(str(run))[0] == str(run / 'epoch_1.pth')
    # a relative path in last_checkpoint is one of the work dir, not of the current folder
    (run / 'last_checkpoint').write_text('epoch_2.pth')
    assert find_resume_checkpoint(str(run))[0] == str(run / 'epoch_2.pth')
    assert find_resume_checkpoint(str(tmp_path / 'empty')) == (
        None, f'no checkpoint in {tmp_path / "empty"}')


def test_a_copied_work_dir_resumes_from_its_own_checkpoint_or_refuses(tmp_path):
    old = run_folder(tmp_path / 'old', 'epoch_1.pth', 'epoch_2.pth', last='epoch_2.pth')
    new = tmp_path / 'new'
    shutil.copytree(old, new)
    path, how = find_resume_checkpoint(str(new))
    assert path == str(new / 'epoch_2.pth')
    assert str(old / 'epoch_2.pth') in how and str(new / 'last_checkpoint') in how
    # the folder it came from is gone (or reused): never its checkpoint, unless given by path
    shutil.rmtree(old)
    (new / 'epoch_2.pth').unlink()
    with pytest.raises(ValueError) as info:
        find_resume_checkpoint(str(new))
    for fact in (new / 'last_checkpoint', old / 'epoch_2.pth', 'epoch_1.pth',
                 f'--resume {old / "epoch_2.pth"}'):
        assert str(fact) in str(info.value), fact


@pytest.mark.parametrize('names', [('epoch_1.pth', 'epoch_2.pth'), ('iter_8.pth', 'epoch_2.pth'),
                                   ('my_copy.pth', )])
def test_checkpoints_without_last_checkpoint_are_listed_not_guessed(tmp_path, names):
    run = run_folder(tmp_path, *names)
    with pytest.raises(ValueError) as info:
        find_resume_checkpoint(str(run))
    message = str(info.value)
    assert all(name in message for name in names)
    assert 'last_checkpoint' in message and f'--resume {run}{os.sep}' in message


def test_a_path_of_another_folder_is_rebased_by_its_name(tmp_path):
    (tmp_path / 'run').mkdir()
    os.symlink(tmp_path / 'run', tmp_path / 'link')
    path = str(tmp_path / 'run' / 'epoch_2.pth')
    assert rebased_path(path, str(tmp_path / 'run')) == path
    assert rebased_path(path, str(tmp_path / 'link')) == path  # the same folder
    assert rebased_path(path, str(tmp_path / 'copy')) == str(tmp_path / 'copy' / 'epoch_2.pth')


def test_checkpoint_folder_follows_the_hook_out_dir(tmp_path):
    assert checkpoint_folder(str(tmp_path / 'run')) == str(tmp_path / 'run')
    assert checkpoint_folder(str(tmp_path / 'run'), str(tmp_path / 'ckpts')) == \
        str(tmp_path / 'ckpts' / 'run')
    out = run_folder(tmp_path / 'ckpts' / 'run', 'epoch_1.pth')
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'last_checkpoint').write_text(str(out / 'epoch_1.pth'))
    assert find_resume_checkpoint(str(tmp_path / 'run'), str(out))[0] == str(out / 'epoch_1.pth')


def test_resume_of_reads_the_runs_config_else_what_the_runner_was_given():
    # Runner.from_cfg: the config holds both (and the Runner was given the same)
    built_from_config = SimpleNamespace(cfg=Config(dict(resume=True, load_from='a.pth')),
                                        _resume=True, _load_from='a.pth')
    assert resume_of(built_from_config) == (True, 'a.pth')
    assert resume_of(SimpleNamespace(cfg=Config(dict(resume=False, load_from='b.pth')),
                                     _resume=True, _load_from='a.pth')) == (False, 'b.pth')
    # Runner(..., resume=True, load_from=...) without a config: its cfg is empty
    assert resume_of(SimpleNamespace(cfg=Config(), _resume=True, _load_from='a.pth')) == \
        (True, 'a.pth')
    assert resume_of(SimpleNamespace(cfg=Config(), _resume=False, _load_from=None)) == \
        (False, None)
    # a config holding one key: the other one from the Runner
    assert resume_of(SimpleNamespace(cfg=Config(dict(resume=True)), _resume=True,
                                     _load_from='a.pth')) == (True, 'a.pth')
