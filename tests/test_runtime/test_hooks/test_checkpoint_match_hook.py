import shutil

import pytest
import torch
from mmengine.runner import Runner

from cgh_mm.runtime import load_checkpoint_safely
from cgh_mm.runtime.hooks import CheckpointMismatchError
from tests.helpers import raises_stating, runner_without_config, tiny_runner_cfg

pytestmark = pytest.mark.slow


def other_model_checkpoint(runner, path):
    """The tiny CGH's weights less one key, plus one, one reshaped: another model."""
    state = dict(runner.model.state_dict())
    del state['backbone.conv1.weight']
    state['head.fc.weight'] = torch.zeros(10, 512)
    state['global_queue'] = torch.zeros(64, 256).T
    torch.save(dict(state_dict=state, meta=dict(epoch=1, iter=2)), path)


# A Runner built from a config, and one built without (its cfg empty), as a script may
BUILDS = dict(from_cfg=Runner.from_cfg, without_config=runner_without_config)


@pytest.mark.parametrize('build', BUILDS.values(), ids=BUILDS.keys())
@pytest.mark.parametrize('resume', [False, True], ids=['load_from', 'resume'])
def test_checkpoint_of_another_model_is_refused_with_its_keys(tmp_path, resume, build):
    path = tmp_path / 'other.pth'
    other_model_checkpoint(Runner.from_cfg(tiny_runner_cfg(tmp_path, max_epochs=1)), path)
    cfg = tiny_runner_cfg(tmp_path, max_epochs=1)
    cfg.load_from, cfg.resume = str(path), resume
    runner = build(cfg)
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
    cfg = tiny_runner_cfg(tmp_path / 'b', max_epochs=1)
    cfg.load_from = str(path)
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    for key, value in source.model.state_dict().items():
        assert torch.equal(runner.model.state_dict()[key], value), key


def test_resume_says_when_the_checkpoint_lr_overrides_the_config(tmp_path, monkeypatch):
    from cgh_mm.runtime.hooks import checkpoint_match_hook as module

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


def resume_cfg(work_dir, checkpoint, **options):
    cfg = tiny_runner_cfg(work_dir, max_epochs=2)
    cfg.merge_from_dict(options)
    cfg.resume, cfg.load_from = True, None if checkpoint is None else str(checkpoint)
    return cfg


def test_a_resume_with_other_training_settings_is_refused_before_training(tmp_path):
    Runner.from_cfg(tiny_runner_cfg(tmp_path / 'run', max_epochs=1)).train()
    checkpoint = tmp_path / 'run' / 'epoch_1.pth'
    # mmengine only warned about the seed, and said nothing about an ablation
    for options, fact in (({'randomness.seed': 5}, 'randomness.seed: 0 -> 5'),
                          ({'model.head.teaching': 'same'},
                           "model.head.teaching: 'cross' (default) -> 'same'")):
        runner = Runner.from_cfg(resume_cfg(tmp_path / 'refused', checkpoint, **options))
        with raises_stating(CheckpointMismatchError, fact, str(checkpoint), 'resume_may_change'):
            runner.train()
        assert not list((tmp_path / 'refused').glob('*.pth'))  # no step was trained
    # what a resume may change: the length of training, logging; a change the run allows
    Runner.from_cfg(resume_cfg(
        tmp_path / 'longer', checkpoint, **{
            'model.head.teaching': 'same', 'log_processor.window_size': 1,
            'default_hooks.checkpoint_match.resume_may_change': ['model.head.teaching']
        })).train()
    assert load_checkpoint_safely(str(tmp_path / 'longer' / 'epoch_2.pth'))['meta']['epoch'] == 2


@pytest.mark.parametrize('build', BUILDS.values(), ids=BUILDS.keys())
def test_a_runner_never_resumes_another_folders_checkpoint(tmp_path, build):
    Runner.from_cfg(tiny_runner_cfg(tmp_path / 'run', max_epochs=1)).train()
    copy = tmp_path / 'copy'
    shutil.copytree(tmp_path / 'run', copy)
    # mmengine would follow last_checkpoint to the folder the work dir was copied from
    runner = build(resume_cfg(copy, None))
    with raises_stating(CheckpointMismatchError, tmp_path / 'run' / 'epoch_1.pth',
                        f'load_from={copy / "epoch_1.pth"}'):
        runner.train()
    # checkpoints but no last_checkpoint: listed, not trained over
    (copy / 'last_checkpoint').unlink()
    runner = build(resume_cfg(copy, None))
    with raises_stating(CheckpointMismatchError, 'epoch_1.pth', 'last_checkpoint'):
        runner.train()
