import math

import pytest
import torch
from mmengine.runner import Runner

from cgh_mm.runtime import load_checkpoint_safely
from cgh_mm.runtime.hooks import NonFiniteLossError
from tests.helpers import raises_stating, tiny_runner_cfg


@pytest.mark.slow
def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = tiny_runner_cfg(tmp_path, max_epochs=2)
    cfg.default_hooks.checkpoint.update(interval=1, by_epoch=False)
    runner = Runner.from_cfg(cfg)
    head_loss = runner.model.head.loss
    calls = []

    def nan_on_third_step(*args, **kwargs):
        losses = head_loss(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            losses['loss_hyper'] = losses['loss_hyper'] * math.nan
        return losses

    runner.model.head.loss = nan_on_third_step
    last_good = tmp_path / 'iter_2.pth'
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    assert 'iteration 3' in message and 'loss_hyper=nan' in message
    assert 'loss_global=' in message and f'load_from={last_good}' in message
    assert 'optim_wrapper.optimizer.lr=' in message  # --resume would keep the old lr
    assert not (tmp_path / 'iter_3.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text() == str(last_good)
    checkpoint = load_checkpoint_safely(str(last_good))
    assert checkpoint['meta']['iter'] == 2
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values()
               if v.is_floating_point())
    # the step that produced the NaN did reach the weights in memory
    assert not all(torch.isfinite(p).all() for p in runner.model.parameters())


def test_ranks_agree_only_where_a_checkpoint_may_follow(monkeypatch):
    """Two ranks, simulated: the flag is all-reduced only at the save points."""
    from types import SimpleNamespace

    from mmengine.hooks import CheckpointHook
    from mmengine.logging import MessageHub

    from cgh_mm.runtime.hooks import NonFiniteLossHook
    from cgh_mm.runtime.hooks import non_finite_loss_hook as module

    reduced_at = []
    other_rank_bad = {'value': False}

    def fake_all_reduce(flag):
        reduced_at.append(runner.iter)
        flag += float(other_rank_bad['value'])

    monkeypatch.setattr(module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(module, 'all_reduce', fake_all_reduce)
    hub = MessageHub.get_instance('non_finite_test')
    runner = SimpleNamespace(iter=0, epoch=0, max_iters=10, message_hub=hub,
                             hooks=[CheckpointHook(interval=4, by_epoch=False)],
                             train_loop=None, train_dataloader=range(100))
    hook = NonFiniteLossHook()
    for it in range(6):
        runner.iter = it
        hub.update_scalar('train/loss', 1.0)
        hook.after_train_iter(runner, it, outputs={'loss': None})
    assert reduced_at == [3]  # iteration 4 is followed by a checkpoint
    other_rank_bad['value'] = True  # from now on the other rank has seen a NaN
    runner.iter = 6
    hook.after_train_iter(runner, 6, outputs={'loss': None})  # no save after it: no check
    runner.iter = 7
    hub.update_info('last_ckpt', 'work/iter_4.pth')
    # where (another rank: none of this rank's terms) and the restart from the last checkpoint
    with raises_stating(NonFiniteLossError, 'another rank', 'load_from=work/iter_4.pth'):
        hook.after_train_iter(runner, 7, outputs={'loss': None})
    assert reduced_at == [3, 7]
