"""mmengine's checkpoints under ``torch.load(weights_only=True)`` (torch >= 2.6's default,
which fails on ``Unsupported global: ... HistoryBuffer``): the exact classes they hold
are allow-listed instead of unpickling anything."""
import pickle
from typing import Any, List

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


def mmengine_checkpoint_globals() -> List[Any]:
    """The non-tensor classes of an mmengine training checkpoint, in the form
    ``torch.serialization.safe_globals`` and ``add_safe_globals`` take."""
    multiarray = np.core.multiarray
    return ([HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
            + [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')]
            + [(_history_buffer_getattr, 'builtins.getattr')])


def allow_mmengine_checkpoint_globals() -> None:
    """Add :func:`mmengine_checkpoint_globals` to torch's process-wide allow-list, for a
    script of one's own that loads mmengine checkpoints outside a CGH config's run.
    ``import cgh_mm`` does not call it: the configs' ``CheckpointGlobalsHook`` and
    ``load_checkpoint_safely`` allow these classes only while they load."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
