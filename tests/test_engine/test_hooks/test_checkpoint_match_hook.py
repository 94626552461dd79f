import pytest
import torch
from mmengine.runner import Runner

from cgh_mm.engine.hooks import CheckpointMismatchError
from tests.helpers import tiny_runner_cfg

pytestmark = pytest.mark.slow


def other_model_checkpoint(runner, path):
    """The tiny CGH's weights less one key, plus one, one reshaped: another model."""
    state = dict(runner.model.state_dict())
    del state['backbone.conv1.weight']
    state['head.fc.weight'] = torch.zeros(10, 512)
    state['global_queue'] = torch.zeros(64, 256).T
    torch.save(dict(state_dict=state, meta=dict(epoch=1, iter=2)), path)


@pytest.mark.parametrize('resume', [False, True], ids=['load_from', 'resume'])
def test_checkpoint_of_another_model_is_refused_with_its_keys(tmp_path, resume):
    cfg = tiny_runner_cfg(tmp_path, max_epochs=1)
    runner = Runner.from_cfg(cfg)
    path = tmp_path / 'other.pth'
    other_model_checkpoint(runner, path)
    runner._load_from, runner._resume = str(path), resume
    before = runner.model.backbone.layer1[0].conv1.weight.clone()
    with pytest.raises(CheckpointMismatchError) as info:
        runner.load_or_resume()
    message = str(info.value)
    assert ('--resume' if resume else '`load_from`') in message and str(path) in message
    assert '1 missing keys (backbone.conv1.weight)' in message
    assert '1 unexpected keys (head.fc.weight)' in message
    assert 'global_queue (256, 64) vs (128, 32)' in message
    # nothing was loaded
    assert torch.equal(runner.model.backbone.layer1[0].conv1.weight, before)


def test_checkpoint_of_the_same_model_loads_every_tensor(tmp_path):
    source = Runner.from_cfg(tiny_runner_cfg(tmp_path / 'a', max_epochs=1))
    path = tmp_path / 'same.pth'
    with torch.no_grad():
        source.model.global_queue.mul_(-1)  # differs from any fresh model
    torch.save(dict(state_dict=source.model.state_dict(), meta=dict(epoch=1, iter=2)), path)
    runner = Runner.from_cfg(tiny_runner_cfg(tmp_path / 'b', max_epochs=1))
    runner._load_from = str(path)
    runner.load_or_resume()
    for key, value in source.model.state_dict().items():
        assert torch.equal(runner.model.state_dict()[key], value), key


def test_resume_says_when_the_checkpoint_lr_overrides_the_config(tmp_path, monkeypatch):
    from cgh_mm.engine.hooks import checkpoint_match_hook as module

    warnings = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: warnings.append(msg))
    Runner.from_cfg(tiny_runner_cfg(tmp_path, max_epochs=1)).train()
    checkpoint = tmp_path / 'epoch_1.pth'
    for lr, expected in ((0.05, 0), (0.01, 1)):
        cfg = tiny_runner_cfg(tmp_path / f'lr{lr}', max_epochs=2)
        cfg.optim_wrapper.optimizer.lr = lr
        cfg.resume, cfg.load_from = True, str(checkpoint)
        runner = Runner.from_cfg(cfg)
        runner.train()
        assert len(warnings) == expected
    assert 'lr 0.05' in warnings[0] and 'lr 0.01' in warnings[0]  # the checkpoint's, the config's
    assert f'load_from={checkpoint}' in warnings[0]
