from typing import Optional

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...models.algorithms.cgh import check_queue_fits_batch
from ...models.losses import loss_warmup_alpha


@HOOKS.register_module()
class CGHLossWarmupHook(Hook):
    """Sets CGH's ``alpha`` before every training iteration.

    ``alpha = iter / (warmup_epochs * iters_per_epoch)`` capped at 1: the InfoNCE
    term fades out and the cross-context terms fade in. The value is derived from
    ``runner.iter`` alone, never accumulated, so a resumed run continues exactly.
    Before training it also checks that the queue holds a whole number of global
    batches, so a bad ``queue_len`` fails before any compute.

    Args:
        warmup_epochs: length of the loss warm-up in epochs (5 in the paper).
        warmup_iters: length in iterations; overrides ``warmup_epochs`` when set
            (for iteration-based loops).
    """

    priority = 'NORMAL'

    def __init__(self, warmup_epochs: float = 5.0, warmup_iters: Optional[int] = None) -> None:
        if warmup_epochs < 0 or (warmup_iters is not None and warmup_iters < 0):
            raise ValueError('CGHLossWarmupHook: warm-up length must be >= 0, got '
                             f'warmup_epochs={warmup_epochs}, warmup_iters={warmup_iters}.')
        self.warmup_epochs = warmup_epochs
        self.warmup_iters = warmup_iters

    @staticmethod
    def _cgh(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'alpha'):
            raise TypeError(f'CGHLossWarmupHook needs a CGH model, got {type(model).__name__}.')
        return model

    def _total_warmup_iters(self, runner) -> int:
        if self.warmup_iters is not None:
            return int(self.warmup_iters)
        return int(round(self.warmup_epochs * len(runner.train_dataloader)))

    def before_train(self, runner) -> None:
        model = self._cgh(runner)
        batch_size = runner.train_dataloader.batch_size
        if batch_size is not None:
            check_queue_fits_batch(model.queue_len, batch_size, get_world_size())

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        alpha = loss_warmup_alpha(runner.iter, self._total_warmup_iters(runner))
        self._cgh(runner).alpha.fill_(alpha)
