"""Checkpoint helpers: safe loading, atomic writes, finding the last complete one.

Shared by the training tools, the hooks in :mod:`cgh_mm.engine.hooks` and every
tool that reads a checkpoint it did not write (converters, analysis tools).
"""
import glob
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import torch

# How many key names an error message lists before it says "and N more".
_MAX_LISTED_KEYS = 10


def load_checkpoint_safely(path: str, map_location: Any = 'cpu') -> Dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with clear errors.

    Only tensors, plain containers and the allow-listed classes of mmengine's
    own checkpoints (see :mod:`cgh_mm.utils.safe_loading`) are unpickled; a file
    whose pickle asks for anything else (e.g. a function that would run code)
    is refused.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        pickle.UnpicklingError: the file holds objects outside the allow-list.
        RuntimeError: the file is truncated or not a torch checkpoint.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist; check the path.')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'refused to load {path!r}: it contains pickled objects that are not '
            'tensors or allow-listed checkpoint classes, and unpickling them could '
            'run arbitrary code. Only load checkpoints from a source you trust; '
            'to use a trusted one, re-save its weights as a plain dict of tensors '
            f'(torch.save({{"state_dict": ...}})). Details: {err}') from err
    except (RuntimeError, EOFError) as err:
        raise RuntimeError(
            f'cannot read checkpoint {path!r}: the file is truncated or is not a '
            'torch checkpoint (was its writing interrupted?). Use an earlier '
            f'checkpoint. Details: {err}') from err


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole torch zip checkpoint (every member's CRC checks)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def find_last_complete_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete checkpoint of ``work_dir``, or None when there is none.

    mmengine's ``last_checkpoint`` file names the newest checkpoint, but it can
    point at a file that was cut short (a save killed half-way over an existing
    name) or lag behind (a kill between a save and the pointer's update). So
    the file it names and every ``*.pth`` of ``work_dir`` are candidates, newest
    first (by modification time), and the first complete one wins.
    """
    candidates = set(glob.glob(osp.join(work_dir, '*.pth')))
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            candidates.add(named)
    newest_first = sorted(candidates, key=osp.getmtime, reverse=True)
    return next((path for path in newest_first if is_complete_checkpoint(path)), None)


def write_file_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one.

    The bytes go to a hidden temporary file in the same folder, are flushed to
    disk, then renamed over ``path`` (``os.replace`` is atomic on POSIX).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp_path = osp.join(folder, f'.{osp.basename(path)}.partial')
    with open(tmp_path, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp_path, path)


def _listed(keys: List[str]) -> str:
    shown = ', '.join(keys[:_MAX_LISTED_KEYS])
    more = len(keys) - _MAX_LISTED_KEYS
    return shown + (f', ... and {more} more' if more > 0 else '')


def describe_state_dict_mismatch(expected: Mapping[str, torch.Tensor],
                                 given: Mapping[str, torch.Tensor]) -> Optional[str]:
    """One sentence listing missing, unexpected and wrongly shaped keys, or None.

    Args:
        expected: the state dict of the model that will receive the weights.
        given: the state dict read from a checkpoint.
    """
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    shapes = sorted(
        f'{k} {tuple(given[k].shape)} vs {tuple(expected[k].shape)}'
        for k in set(expected) & set(given)
        if hasattr(given[k], 'shape') and given[k].shape != expected[k].shape)
    parts = []
    if missing:
        parts.append(f'{len(missing)} missing keys ({_listed(missing)})')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected keys ({_listed(unexpected)})')
    if shapes:
        parts.append(f'{len(shapes)} keys with another shape, checkpoint vs model '
                     f'({_listed(shapes)})')
    return '; '.join(parts) if parts else None


def _checkpoint_keys(node: Any, key: str = '') -> Iterator[Tuple[str, str]]:
    """``(config key, path)`` of every local checkpoint a config names."""
    if isinstance(node, Mapping):
        if isinstance(node.get('type'), str) and 'Pretrained' in node['type'] \
                and isinstance(node.get('checkpoint'), str):
            yield f'{key}.checkpoint', node['checkpoint']
        for name, value in node.items():
            yield from _checkpoint_keys(value, f'{key}.{name}' if key else str(name))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _checkpoint_keys(value, f'{key}[{i}]')


def check_checkpoint_paths(cfg: Mapping) -> None:
    """Fail early, naming the config key, when a config points at a missing checkpoint.

    Looks at ``load_from`` and at every ``init_cfg`` of a ``*Pretrained`` type.
    Remote names (``scheme://...``) are left to their loaders.

    Raises:
        FileNotFoundError: naming the config key and the path.
    """
    found = list(_checkpoint_keys(cfg.get('model', {}), 'model'))
    if cfg.get('load_from'):
        found.append(('load_from', cfg['load_from']))
    for key, path in found:
        if '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'the config key `{key}` points at the checkpoint {path!r}, which '
                f'does not exist. Set `{key}` to an existing checkpoint (e.g. with '
                f'--cfg-options {key}=PATH), or train/convert one first.')
