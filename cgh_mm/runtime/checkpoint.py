"""Checkpoint files: checked and safe loading, atomic writes, the last complete one, the
one a resume continues from."""
import contextlib
import errno
import glob
import os
import os.path as osp
import pickle
import re
import shutil
import uuid
import zipfile
from typing import Any, Iterator, List, Mapping, Optional, Tuple

import torch

from .safe_loading import mmengine_checkpoint_globals

_TEXT = set(range(32, 127)) | set(b'\t\r\n')
_EARLIER = 'Use an earlier checkpoint (e.g. --resume PATH with one of the same work dir).'


def check_checkpoint_file(path: str) -> None:
    """Raise ``FileNotFoundError`` or ``RuntimeError`` naming ``path`` and the problem
    unless it is a torch checkpoint with its whole zip directory. Reads its first bytes
    and that directory, not the tensors (``torch.load`` does); unpickles nothing."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist; check the path.')
    with open(path, 'rb') as f:
        head, size = f.read(64), os.fstat(f.fileno()).st_size
    if size and not head.startswith((b'PK', b'\x80')):  # zip format; legacy torch pickle
        kind = ('JSON' if head.lstrip()[:1] in (b'{', b'[') else 'text (YAML, a config, '
                'a log, ...)' if set(head) <= _TEXT else 'data of an unknown format')
        raise RuntimeError(f'{path!r} is not a torch checkpoint: it holds {kind}, starting '
                           f'{head[:32]!r}. Pass a .pth file written by torch.save.')
    problem = 'is empty (0 bytes): its writing was interrupted' if size == 0 else None
    if head.startswith(b'PK'):
        try:
            zipfile.ZipFile(path).close()
        except (zipfile.BadZipFile, EOFError):
            problem = (f'is truncated or incomplete ({size} bytes, the end of its zip '
                       'archive is missing): it was cut short while written or copied')
    if problem is not None:
        raise RuntimeError(f'checkpoint {path!r} {problem}. {_EARLIER}')


def load_checkpoint_safely(path: str, map_location: Any = 'cpu', mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` after :func:`check_checkpoint_file`:
    only tensors, containers and the classes of ``safe_loading``, allowed for this load
    only (torch's allow-list is as it was afterwards). ``mmap``: the tensors stay on disk
    until read (zip checkpoints; e.g. to read only ``meta``)."""
    check_checkpoint_file(path)
    try:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
            return torch.load(path, map_location=map_location, weights_only=True,
                              mmap=mmap and zipfile.is_zipfile(path))
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'refused to load {path!r}: it contains pickled objects that are not tensors '
            'or allow-listed checkpoint classes, and unpickling them could run arbitrary '
            'code. Only load checkpoints from a source you trust; to use a trusted one, '
            're-save its weights as a plain dict of tensors (torch.save({"state_dict": '
            f'...}})). Details: {err}') from err
    except (RuntimeError, EOFError) as err:
        raise RuntimeError(f'cannot read checkpoint {path!r} ({osp.getsize(path)} bytes): it '
                           f'is truncated or corrupt. {_EARLIER} Details: {err}') from err


class AtomicWriteError(OSError):
    """Writing ``path`` failed; ``needed`` and ``free`` (on its filesystem, None when
    unknown) are in bytes."""

    def __init__(self, errno: int, message: str, path: str, needed: int,
                 free: Optional[int]) -> None:
        super().__init__(errno, message)
        self.path, self.needed, self.free = path, needed, free


def _write_advice(err: OSError, folder: str, needed: int) -> Tuple[str, Optional[int]]:
    """What to do about ``err`` when writing ``needed`` bytes into ``folder``, by its errno
    (space only when space is the problem), and the free bytes there if they matter."""
    if err.errno == errno.ENOSPC:
        free = shutil.disk_usage(folder).free
        return (f'It needs {needed / 2**20:.1f} MiB ({needed} bytes); free on its filesystem: '
                f'{free / 2**20:.1f} MiB. Free some space (e.g. old checkpoints) or write to '
                'another folder, then run again.', free)
    if err.errno == errno.EDQUOT:
        return (f'It needs {needed / 2**20:.1f} MiB ({needed} bytes) beyond your disk quota. '
                'Free some of it (e.g. old checkpoints) or write to another folder, then run '
                'again.', None)
    if err.errno == errno.EROFS:
        return (f'{folder} is on a read-only file system: write to a folder on a writable '
                'one (e.g. --work-dir DIR, or the checkpoint hook\'s out_dir).', None)
    if err.errno in (errno.EACCES, errno.EPERM):
        return (f'This user may not write in {folder}: give it write permission (chmod/chown) '
                'or write to another folder (e.g. --work-dir DIR).', None)
    return 'Fix the cause above or write to another folder, then run again.', None


def write_file_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a hidden ``.NAME.<pid>-<random>.partial`` file beside ``path``
    (its own for every writer), fsync it and rename it over ``path``: readers see the old
    file or the new one. Whatever stops the write (an ``OSError``, Ctrl-C, ``SystemExit``)
    removes the partial file; an ``OSError`` becomes an :class:`AtomicWriteError` whose
    advice follows its errno (space only for a full disk or quota)."""
    folder = osp.dirname(osp.abspath(path))
    tmp_path = osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}-{uuid.uuid4().hex[:8]}'
                        '.partial')
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp_path, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        if not isinstance(err, OSError):
            raise
        advice, free = _write_advice(err, folder, len(data))
        raise AtomicWriteError(
            err.errno, f'could not write {path}: {err.strerror or err}. {advice} No partial '
            'file was left.', path, len(data), free) from err


def describe_state_dict_mismatch(expected: Mapping[str, torch.Tensor],
                                 given: Mapping[str, torch.Tensor]) -> Optional[str]:
    """One sentence listing the keys of ``given`` (a checkpoint) that are missing,
    unexpected or of another shape for ``expected`` (a model), or None."""
    shapes = [f'{k} {tuple(given[k].shape)} vs {tuple(v.shape)}' for k, v in expected.items()
              if k in given and getattr(given[k], 'shape', v.shape) != v.shape]
    parts = []
    for keys, what in ((sorted(set(expected) - set(given)), 'missing keys'),
                       (sorted(set(given) - set(expected)), 'unexpected keys'),
                       (sorted(shapes), 'keys with another shape, checkpoint vs model')):
        if keys:
            more = f', ... and {len(keys) - 10} more' if len(keys) > 10 else ''
            parts.append(f'{len(keys)} {what} ({", ".join(keys[:10])}{more})')
    return '; '.join(parts) or None


def _checkpoint_keys(node: Any, key: str) -> Iterator[Tuple[str, str]]:
    if isinstance(node, Mapping):
        if 'Pretrained' in str(node.get('type')) and isinstance(node.get('checkpoint'), str):
            yield f'{key}.checkpoint', node['checkpoint']
        for name, value in node.items():
            yield from _checkpoint_keys(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _checkpoint_keys(value, f'{key}[{i}]')


def check_checkpoint_paths(cfg: Mapping) -> None:
    """:func:`check_checkpoint_file` on ``load_from`` (but a resume's) and on the local
    checkpoint of every ``*Pretrained`` init_cfg, its error naming the config key."""
    found = list(_checkpoint_keys(cfg.get('model', {}), 'model'))
    if cfg.get('load_from') and not cfg.get('resume'):
        found.append(('load_from', cfg['load_from']))
    for key, path in found:
        try:
            if '://' not in path:
                check_checkpoint_file(path)
        except (OSError, RuntimeError) as err:
            raise type(err)(
                f'the config key `{key}`: {err} Set `{key}` to an existing checkpoint (e.g. '
                f'with --cfg-options {key}=PATH, a PATH without spaces: --cfg-options '
                'refuses them, as mmengine would drop them), or train/convert one '
                'first.') from None


def resume_of(runner: Any) -> Tuple[bool, Optional[str]]:
    """``(resume, load_from)`` of an mmengine Runner: whether it resumes a run, and the
    checkpoint it was given (None: mmengine's lookup in the work dir, or no checkpoint).

    A Runner built from a config (``Runner.from_cfg``) has them in its config, ``runner.cfg``,
    read here. One built without (``Runner(..., resume=True, load_from=PATH)``) has an empty
    ``runner.cfg``: then each key the config does not hold is read from the Runner's private
    ``_resume`` and ``_load_from`` (mmengine 0.10), as mmengine offers no public way to tell.
    """
    cfg = getattr(runner, 'cfg', None) or {}
    resume = cfg['resume'] if 'resume' in cfg else getattr(runner, '_resume', False)
    load_from = cfg['load_from'] if 'load_from' in cfg else getattr(runner, '_load_from', None)
    return bool(resume), load_from


def checkpoint_folder(work_dir: str, out_dir: Optional[str] = None) -> str:
    """The folder the checkpoint hook writes to: the work dir, or with ``out_dir`` (the
    hook's argument) ``out_dir/<name of the work dir>``, as mmengine's ``CheckpointHook``."""
    work_dir = osp.abspath(work_dir)
    if out_dir is None or out_dir == work_dir:
        return work_dir
    return osp.join(out_dir, osp.basename(work_dir.rstrip(osp.sep)))


def _natural_key(path: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', path)]


def list_checkpoints(folder: str) -> List[str]:
    """The ``*.pth`` files of a local ``folder`` (hidden partial files left out), in
    natural order (``epoch_2`` before ``epoch_10``)."""
    if '://' in folder:
        return []
    return sorted(glob.glob(osp.join(glob.escape(folder), '*.pth')), key=_natural_key)


def rebased_path(path: str, folder: str) -> str:
    """``path`` if it is in ``folder`` (by real path: links resolved), else the path of
    its name in ``folder``: where a checkpoint recorded in another folder (that of a
    copied or moved work dir) is in this one."""
    if osp.realpath(osp.dirname(path)) == osp.realpath(folder):
        return path
    return osp.join(folder, osp.basename(path))


def find_resume_checkpoint(work_dir: str,
                           checkpoint_dir: Optional[str] = None) -> Tuple[Optional[str], str]:
    """The checkpoint a resume in ``work_dir`` continues from, and how it was found.

    mmengine resumes from the path that ``work_dir/last_checkpoint`` holds, an absolute
    path. Here:

    - it names a file of ``checkpoint_dir`` (default: the work dir): that file;
    - it names a file of another folder (the work dir was copied or moved from there, and
      that folder may since hold another run): the file of that name in
      ``checkpoint_dir`` if there is one; else a ``ValueError``. Another folder's
      checkpoint is loaded only when given by path;
    - there is no ``last_checkpoint``: ``None`` when the folder holds no ``.pth`` file
      (a first run); else a ``ValueError`` listing them. Which one continues the run
      cannot be told safely from what is there (checkpoints copied from another run,
      of several runs, named by epoch and by iteration), and a fresh start would
      overwrite them.

    Returns ``(path or None, a sentence saying where the path comes from)``.
    """
    work_dir = osp.abspath(work_dir)
    folder = checkpoint_dir or work_dir
    found = list_checkpoints(folder)
    how_to = ('Resume from the one you mean by its path (tools/train.py --resume PATH; '
              'with a Runner, `load_from=PATH` and `resume=True`)')
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        if not found:
            return None, f'no checkpoint in {folder}'
        raise ValueError(
            f'{folder} holds checkpoints but no `last_checkpoint` file naming the one the run '
            f'wrote last: {", ".join(map(osp.basename, found))}. Which one continues the run '
            'cannot be told from their names (they may come from several runs, or be copied '
            'from another one), and training from scratch would overwrite them. '
            f'{how_to}, e.g. --resume {found[-1]}; or train from scratch in another work dir.')
    with open(pointer) as f:
        named = f.read().strip()
    named = osp.join(work_dir, named) if named and not osp.isabs(named) else named
    local = named if '://' in named else rebased_path(named, folder)
    if local == named:
        return named, f'{pointer} names it'
    if osp.isfile(local):
        return local, (f'{pointer} names {named}, a checkpoint of another folder (this work '
                       'dir was copied or moved from there); this work dir\'s own copy of it '
                       'is used')
    raise ValueError(
        f'{pointer} names {named}, a checkpoint of another folder (this work dir was copied '
        f'or moved from there, and that folder may hold another run by now), and {folder} '
        f'has no {osp.basename(named)}. Checkpoints in {folder}: '
        f'{", ".join(map(osp.basename, found)) or "none"}. {how_to}: one of these, or, to '
        f'continue the other folder\'s run, --resume {named}.')
