import logging
import math
import re

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from ...utils.checkpoint import describe_state_dict_mismatch


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model being trained."""


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Checks a ``--resume`` / ``load_from`` checkpoint before anything is loaded.

    mmengine loads a checkpoint of another model with ``strict=False``: a warning,
    then training on partly random weights. This hook raises one error listing the
    missing, unexpected and wrongly shaped keys instead. On a resume it also says
    when the checkpoint's learning rate overrides a different one in the config:
    mmengine restores the optimizer and schedulers, so a changed config lr (or
    ``--cfg-options optim_wrapper.optimizer.lr=...``) is ignored.

    Args:
        ignore_keys: regular expressions of keys that may be missing from or
            extra in the checkpoint (e.g. ``['^head\\.']`` to load a backbone).
    """

    priority = 'VERY_HIGH'

    def __init__(self, ignore_keys: tuple = ()) -> None:
        self.ignore_keys = [re.compile(pattern) for pattern in ignore_keys]

    def _kept(self, state: dict) -> dict:
        return {k: v for k, v in state.items() if not any(p.search(k) for p in self.ignore_keys)}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = get_ori_model(runner.model)
        # mmengine strips the prefix of DDP-wrapped checkpoints the same way.
        given = {re.sub(r'^module\.', '', k): v
                 for k, v in checkpoint.get('state_dict', checkpoint).items()}
        source = runner._load_from or f'the latest checkpoint of {runner.work_dir}'
        resume = getattr(runner, '_resume', False)
        mismatch = describe_state_dict_mismatch(self._kept(model.state_dict()), self._kept(given))
        if mismatch is not None:
            raise CheckpointMismatchError(
                f'the checkpoint given to {"--resume" if resume else "`load_from`"} ({source}) '
                f'does not fit the model {type(model).__name__}: {mismatch}. It was written by '
                'another model or config. Pass a checkpoint of this config, or to start from '
                "pretrained weights of another model use `init_cfg=dict(type='StrictPretrained', "
                "checkpoint=..., prefix='backbone.')` on the part they fit.")
        saved = checkpoint.get('optimizer', {}).get('param_groups', [{}])[0].get('initial_lr')
        groups = getattr(runner.optim_wrapper, 'param_groups', None)
        wanted = groups[0].get('initial_lr', groups[0]['lr']) if groups else None
        if resume and None not in (saved, wanted) and not math.isclose(saved, wanted):
            print_log(
                f'--resume: the checkpoint ({source}) continues its own learning-rate schedule '
                f'(initial lr {saved:g}); the config\'s initial lr {wanted:g} is ignored. To '
                f'train the checkpoint\'s weights with the config\'s lr, start a new run with '
                f'`--cfg-options load_from={source}` (weights, teacher and queues; a fresh '
                'optimizer and schedule) instead of --resume.', logger='current',
                level=logging.WARNING)
