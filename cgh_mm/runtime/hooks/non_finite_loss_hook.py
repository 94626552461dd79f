import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from .checkpoint_schedule import may_save_after_iter


class NonFiniteLossError(FloatingPointError):
    """Training stopped because a loss term was NaN or infinite."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """A NaN or infinite loss stops training before any checkpoint holds it, naming the
    last good checkpoint to restart from.

    It reads the loss values that mmengine's ``RuntimeInfoHook`` has already
    copied to the host for the log, so it adds no device synchronisation. With
    several processes the ranks agree (one all-reduce of a flag) only after the
    iterations a checkpoint may follow, so no rank is left waiting for another
    and the last checkpoint on disk is the last good one.
    """

    priority = 'HIGH'  # after RuntimeInfoHook, before the checkpoint hook

    def __init__(self) -> None:
        self._first_bad: Optional[str] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict[str, torch.Tensor]] = None) -> None:
        hub = runner.message_hub
        values = {key: hub.get_scalar(f'train/{key}').current()
                  for key in outputs or {} if 'loss' in key}
        if self._first_bad is None and not all(map(math.isfinite, values.values())):
            terms = ', '.join(f'{key}={value:.6g}' for key, value in values.items())
            self._first_bad = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                               f'batch {batch_idx + 1}): {terms}')
        bad = self._first_bad is not None
        if get_world_size() > 1:
            if not may_save_after_iter(runner, batch_idx):
                return
            flag = torch.tensor(float(bad))
            all_reduce(flag)
            bad = flag.item() > 0
        if not bad:
            return
        last = runner.message_hub.get_info('last_ckpt')
        where = self._first_bad or "another rank (this rank's losses stayed finite)"
        restart = (f'The last good checkpoint is {last} (left untouched). --resume would '
                   "restore its optimizer and learning-rate schedule too, ignoring a new lr: "
                   f'to restart from its weights (teacher and queues included) with a fresh '
                   f'optimizer, run `tools/train.py CONFIG --cfg-options load_from={last} '
                   'optim_wrapper.optimizer.lr=LOWER_LR`'
                   if last else 'No checkpoint was written yet: lower the learning rate')
        raise NonFiniteLossError(
            f'non-finite loss at {where}. Training stopped before any checkpoint could hold '
            f'it. {restart}; also check the input data, or use AmpOptimWrapper with a '
            'dynamic loss scale.')
