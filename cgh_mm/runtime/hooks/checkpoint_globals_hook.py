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
    writes (``Unsupported global: ... HistoryBuffer``). From ``before_run`` (which
    mmengine calls before it loads) to ``after_run``, this hook allows exactly those
    classes (``cgh_mm/runtime/safe_loading.py``) through ``torch.serialization.safe_globals``,
    which puts torch's allow-list back as it was when the run ends.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._scope: Optional[torch.serialization.safe_globals] = None

    def before_run(self, runner) -> None:
        if self._scope is None:  # once per run, however often before_run is called
            self._scope = torch.serialization.safe_globals(mmengine_checkpoint_globals())
            self._scope.__enter__()

    def after_run(self, runner) -> None:
        if self._scope is not None:
            self._scope.__exit__(None, None, None)
            self._scope = None
