"""mmengine's checkpoints under ``torch.load(weights_only=True)`` (torch >= 2.6's default,
which fails on ``Unsupported global: ... HistoryBuffer``): the exact classes they hold
are allow-listed instead of unpickling anything."""
import pickle
from typing import Any, List

import numpy as np
import torch

_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def mmengine_checkpoint_globals() -> List[object]:
    """The non-tensor classes an mmengine training checkpoint contains."""
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np.core.multiarray
    items = [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    return items + [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')]


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """The one ``getattr`` a checkpoint may ask for: HistoryBuffer pickles its statistics
    as ``getattr(HistoryBuffer, 'mean')``; the real ``getattr`` would let a crafted file
    reach any attribute of any allowed class."""
    from mmengine.logging.history_buffer import HistoryBuffer

    # The built-ins enter `_statistics_methods` only when a first buffer is made.
    if obj is HistoryBuffer and name in set(HistoryBuffer._statistics_methods) | set(
            _BUILTIN_STATISTICS):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}), which is not an mmengine '
        'HistoryBuffer statistic; refusing to load it with weights_only=True.')


def allow_mmengine_checkpoint_globals() -> None:
    """Add them to torch's safe-load allow-list (idempotent; run by ``import cgh_mm``)."""
    torch.serialization.add_safe_globals(
        mmengine_checkpoint_globals() + [(_history_buffer_getattr, 'builtins.getattr')])
