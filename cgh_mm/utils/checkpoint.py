"""Checkpoint files: checked and safe loading, atomic writes, the last complete one."""
import os
import os.path as osp
import pickle
import shutil
import zipfile
from typing import Any, Iterator, Mapping, Optional, Tuple

import torch

_TEXT = set(range(32, 127)) | set(b'\t\r\n')
_EARLIER = 'Use an earlier checkpoint (e.g. --resume PATH with one of the same work dir).'


def check_checkpoint_file(path: str) -> None:
    """Raise ``FileNotFoundError`` or ``RuntimeError`` naming ``path`` and the problem
    unless it is a whole torch checkpoint. Checks zip CRCs, unpickles nothing."""
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
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            if bad is not None:
                problem = f'is corrupt ({size} bytes): its member {bad!r} fails its CRC check'
        except (zipfile.BadZipFile, EOFError):
            problem = (f'is truncated or incomplete ({size} bytes, the end of its zip '
                       'archive is missing): it was cut short while written or copied')
    if problem is not None:
        raise RuntimeError(f'checkpoint {path!r} {problem}. {_EARLIER}')


def load_checkpoint_safely(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)`` after :func:`check_checkpoint_file`:
    only tensors, containers and the classes allow-listed in ``safe_loading``."""
    check_checkpoint_file(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
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
    """Writing ``path`` failed; ``needed`` and ``free`` (on its filesystem) are in bytes."""

    def __init__(self, errno: int, message: str, path: str, needed: int, free: int) -> None:
        super().__init__(errno, message)
        self.path, self.needed, self.free = path, needed, free


def write_file_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a hidden ``.NAME.partial`` file beside ``path``, fsync it and
    rename it over ``path``: readers see the old file or the new one. On an ``OSError``
    (a full disk, ...) the partial file is removed and :class:`AtomicWriteError` raised."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp_path = osp.join(folder, f'.{osp.basename(path)}.partial')
    try:
        with open(tmp_path, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except OSError as err:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        free = shutil.disk_usage(folder).free
        raise AtomicWriteError(
            err.errno, f'could not write {path}: {err.strerror or err}. It needs '
            f'{len(data) / 2**20:.1f} MiB ({len(data)} bytes); free on its filesystem: '
            f'{free / 2**20:.1f} MiB. Free some space (e.g. old checkpoints) or write to '
            'another folder, then run again. No partial file was left.', path, len(data),
            free) from err


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
    """Raise ``FileNotFoundError`` naming the config key when ``load_from`` or the
    checkpoint of a ``*Pretrained`` init_cfg is a missing local file."""
    found = list(_checkpoint_keys(cfg.get('model', {}), 'model'))
    if cfg.get('load_from'):
        found.append(('load_from', cfg['load_from']))
    for key, path in found:
        if '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'the config key `{key}` points at the checkpoint {path!r}, which does not '
                f'exist. Set `{key}` to an existing checkpoint (e.g. with --cfg-options '
                f'{key}=PATH, a PATH without spaces: --cfg-options deletes them), or '
                'train/convert one first.')
