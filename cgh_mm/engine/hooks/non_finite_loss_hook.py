import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """Training stopped because a loss term was NaN or infinite."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stops training at the first NaN/inf loss term, before anything is saved.

    It runs after each iteration ahead of the checkpoint hook, so the weights
    the bad step touched are never written: the last checkpoint on disk is the
    last good one, and the error says where it is. All ranks agree on the
    verdict (one all-reduce of a flag), so no rank is left waiting for another.
    """

    priority = 'HIGHEST'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict[str, torch.Tensor]] = None) -> None:
        if not outputs:
            return
        values = {
            name: float(value.detach() if isinstance(value, torch.Tensor) else value)
            for name, value in outputs.items()
            if isinstance(value, (float, int)) or
            (isinstance(value, torch.Tensor) and value.numel() == 1)
        }
        bad = torch.tensor(float(any(not math.isfinite(v) for v in values.values())))
        all_reduce(bad, op='sum')
        if bad.item() == 0:
            return
        terms = ', '.join(f'{name}={value:.6g}' for name, value in values.items())
        last = runner.message_hub.get_info('last_ckpt')
        kept = (f'The last good checkpoint is {last} (left untouched); resume from it '
                f'with --resume {last}' if last else 'No checkpoint was written yet')
        raise NonFiniteLossError(
            f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
            f'batch {batch_idx + 1}): {terms} (on at least one rank). Training stopped '
            f'before saving anything. {kept}. Lower the learning rate, check the input '
            'data, or use AmpOptimWrapper with a dynamic loss scale.')
