import re

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...utils.checkpoint import describe_state_dict_mismatch


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model being trained."""


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Refuses ``--resume`` / ``load_from`` checkpoints written by another model.

    mmengine loads such checkpoints with ``strict=False``: it logs a warning and
    trains on with partly random weights (or fails later inside the optimizer
    with an unrelated message). This hook compares the checkpoint's
    ``state_dict`` with the model's before anything is loaded and raises one
    error listing the missing, unexpected and wrongly shaped keys.

    Args:
        ignore_keys: regular expressions of keys that may be missing from or
            extra in the checkpoint (e.g. ``['^head\\.']`` to load a backbone).
    """

    priority = 'VERY_HIGH'

    def __init__(self, ignore_keys: tuple = ()) -> None:
        self.ignore_keys = [re.compile(pattern) for pattern in ignore_keys]

    def _kept(self, state: dict) -> dict:
        return {k: v for k, v in state.items()
                if not any(p.search(k) for p in self.ignore_keys)}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        given = checkpoint.get('state_dict', checkpoint)
        # mmengine strips the prefix of DDP-wrapped checkpoints the same way.
        given = {re.sub(r'^module\.', '', k): v for k, v in given.items()}
        mismatch = describe_state_dict_mismatch(self._kept(model.state_dict()),
                                                self._kept(given))
        if mismatch is None:
            return
        source = runner._load_from or f'the latest checkpoint of {runner.work_dir}'
        how = '--resume' if getattr(runner, '_resume', False) else '`load_from`'
        raise CheckpointMismatchError(
            f'the checkpoint given to {how} ({source}) does not fit the model '
            f'{type(model).__name__}: {mismatch}. It was written by another model or '
            'config. Pass a checkpoint of this config, or to start from pretrained '
            'weights of another model use `init_cfg=dict(type=\'StrictPretrained\', '
            'checkpoint=..., prefix=\'backbone.\')` on the part they fit.')
