"""mmengine's checkpoints under ``torch.load(weights_only=True)`` (torch >= 2.6's default,
which fails on ``Unsupported global: ... HistoryBuffer``): the exact classes they hold
are allow-listed instead of unpickling anything."""
import pickle
from typing import Any

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """The one ``getattr`` a checkpoint may ask for: HistoryBuffer pickles its statistics
    as ``getattr(HistoryBuffer, 'mean')``; the real ``getattr`` would let a crafted file
    reach any attribute of any allowed class."""
    # The built-ins enter `_statistics_methods` only when a first buffer is made.
    builtin_statistics = {'min', 'max', 'current', 'mean'}
    if obj is HistoryBuffer and name in set(HistoryBuffer._statistics_methods) | builtin_statistics:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}), which is not an mmengine '
        'HistoryBuffer statistic; refusing to load it with weights_only=True.')


def allow_mmengine_checkpoint_globals() -> None:
    """Add the non-tensor classes of an mmengine training checkpoint to torch's safe-load
    allow-list (idempotent; run by ``import cgh_mm``)."""
    multiarray = np.core.multiarray
    torch.serialization.add_safe_globals(
        [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
        + [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')]
        + [(_history_buffer_getattr, 'builtins.getattr')])
