from mmengine.hooks import CheckpointHook
from mmengine.runner import IterBasedTrainLoop


def may_save_after_iter(runner, batch_idx: int) -> bool:
    """Whether a checkpoint may be written before the next training iteration.

    True at the end of an epoch (epoch-based saves, validation that may save a
    best checkpoint) and of training, and at the intervals of an
    iteration-based ``CheckpointHook`` or validation. Hooks whose checkpoint
    content needs a collective across ranks run it only then.
    """
    step = runner.iter + 1
    hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
    intervals = [hook.interval] if hook is not None and not hook.by_epoch else []
    if isinstance(runner.train_loop, IterBasedTrainLoop):
        intervals.append(runner.train_loop.val_interval)
    return (step == runner.max_iters or batch_idx + 1 == len(runner.train_dataloader)
            or any(step % interval == 0 for interval in intervals))
