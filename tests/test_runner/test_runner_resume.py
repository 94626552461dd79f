"""A real mmengine Runner: train, checkpoint, resume in a new Runner."""
import pytest
import torch
from mmengine.runner import Runner

from tests.helpers import tiny_runner_cfg as tiny_cfg


def cgh_state(model):
    state = {k: v.clone() for k, v in model.state_dict().items()
             if k.startswith(('teacher.', 'global_queue', 'hypercolumn_queue', 'queue_ptr'))}
    assert any(k.startswith('teacher.module.backbone') for k in state)
    return state


def test_train_checkpoint_and_exact_restore(tmp_path):
    runner = Runner.from_cfg(tiny_cfg(tmp_path / 'run', max_epochs=2))
    runner.train()
    ckpt = tmp_path / 'run' / 'epoch_2.pth'
    assert ckpt.exists()
    trained = cgh_state(runner.model)
    # warm-up of 4 epochs x 2 iterations; the last iteration had index 3
    assert runner.model.head.alpha == pytest.approx(3 / 8)
    assert int(trained['queue_ptr']) == 64  # 4 iterations x 16 images
    scalars = (tmp_path / 'run').rglob('scalars.json')
    log = next(scalars).read_text()
    for key in ('loss_nce', 'loss_hyper', 'loss_global', 'alpha', 'health/hyper_kl'):
        assert f'"{key}"' in log

    # a new Runner restores everything from the checkpoint (loaded with weights_only)
    cfg = tiny_cfg(tmp_path / 'resumed', max_epochs=3)
    cfg.resume = True
    cfg.load_from = str(ckpt)
    resumed = Runner.from_cfg(cfg)
    fresh = cgh_state(resumed.model)
    assert not torch.equal(fresh['global_queue'], trained['global_queue'])
    resumed.load_or_resume()
    restored = cgh_state(resumed.model)
    assert restored.keys() == trained.keys()
    for key, value in trained.items():
        assert torch.equal(restored[key], value), key
    assert resumed.epoch == 2 and resumed.iter == 4
    resumed.train()  # and training goes on from there
    assert resumed.iter == 6
    assert resumed.model.head.alpha == pytest.approx(5 / 8, abs=1e-7)
