"""Let mmengine's own checkpoints load under ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` while mmengine
0.10.7 still calls it without the argument; its checkpoints then fail with
``Unsupported global: ... HistoryBuffer``. Instead of turning the safe loader
off (``weights_only=False`` or ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which
would unpickle anything), the exact classes that mmengine writes into a
checkpoint's ``message_hub`` are added to torch's allow-list. Everything else,
including code-running pickles, is still refused.
"""
import pickle
from typing import Any, List

import numpy as np
import torch


def mmengine_checkpoint_globals() -> List[object]:
    """The non-tensor classes an mmengine training checkpoint contains."""
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np.core.multiarray
    items = [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray,
             np.dtype]
    # The concrete dtype classes (np.dtypes.Float64DType, ...) of numpy >= 1.25.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        items += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    return items


_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """The one ``getattr`` a checkpoint may ask for: a statistics method of HistoryBuffer.

    ``HistoryBuffer`` pickles its statistics functions (``HistoryBuffer.mean``, ...),
    which pickle protocol 2 writes as ``getattr(HistoryBuffer, 'mean')``. Allowing
    the real builtin ``getattr`` would let a crafted file reach any attribute of any
    allowed class; this stand-in answers only what mmengine writes.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    # The built-in statistics are entered in `_statistics_methods` only when the
    # first HistoryBuffer is created, which a fresh process may not have done.
    known = set(HistoryBuffer._statistics_methods) | set(_BUILTIN_STATISTICS)
    if obj is HistoryBuffer and name in known:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}), which is not an mmengine '
        'HistoryBuffer statistic; refusing to load it with weights_only=True.')


def allow_mmengine_checkpoint_globals() -> None:
    """Add :func:`mmengine_checkpoint_globals` to torch's safe-load allow-list.

    Idempotent; called when ``cgh_mm`` is imported.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(mmengine_checkpoint_globals() + [(_history_buffer_getattr, 'builtins.getattr')])
