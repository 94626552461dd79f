from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..safe_loading import mmengine_checkpoint_globals


@HOOKS.register_module()
class CheckpointGlobalsHook(Hook):
    """Lets ``--resume`` and ``load_from`` read mmengine's own checkpoints under torch >= 2.6.

    mmengine 0.10 loads ``--resume`` and ``load_from`` checkpoints with a plain
    ``torch.load``, which torch >= 2.6 refuses for the bookkeeping classes mmengine
    writes (``Unsupported global: ... HistoryBuffer``). This hook allows exactly those
    classes (``cgh_mm/runtime/safe_loading.py``) through ``torch.serialization.safe_globals``
    while mmengine loads: from ``before_run`` (which mmengine calls before it loads) until
    the loop starts (``before_train``, ``before_val`` or ``before_test``), then puts torch's
    allow-list back as it was. Closing it there rather than at ``after_run`` matters when a
    run fails: mmengine calls no hook after an exception, and the list stays the user's.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._scope: Optional[torch.serialization.safe_globals] = None

    def before_run(self, runner) -> None:
        if self._scope is None:  # once per run, however often before_run is called
            self._scope = torch.serialization.safe_globals(mmengine_checkpoint_globals())
            self._scope.__enter__()

    def _close(self, runner=None) -> None:
        if self._scope is not None:
            self._scope.__exit__(None, None, None)
            self._scope = None

    # the loop has started: whatever mmengine loads for this run is loaded
    before_train = before_val = before_test = _close
    after_run = _close  # a Runner that loads and runs no loop
