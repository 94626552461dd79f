import math

import pytest
import torch
from mmengine.runner import Runner

from cgh_mm.engine.hooks import NonFiniteLossError
from cgh_mm.utils import load_checkpoint_safely
from tests.small_runs import small_cfg


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = small_cfg(tmp_path, max_epochs=2)
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
    assert 'loss_global=' in message and f'--resume {last_good}' in message
    assert not (tmp_path / 'iter_3.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text() == str(last_good)
    checkpoint = load_checkpoint_safely(str(last_good))
    assert checkpoint['meta']['iter'] == 2
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values()
               if v.is_floating_point())
    # the step that produced the NaN did reach the weights in memory
    assert not all(torch.isfinite(p).all() for p in runner.model.parameters())
