"""A real mmengine Runner: train, checkpoint, resume in a new Runner."""
import uuid

import pytest
import torch
from mmengine.runner import Runner

from tests.helpers import raises_stating, runner_without_config
from tests.helpers import tiny_runner_cfg as tiny_cfg

pytestmark = pytest.mark.slow


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
    resumed.call_hook('before_run')  # as train() does before it loads
    resumed.load_or_resume()
    restored = cgh_state(resumed.model)
    assert restored.keys() == trained.keys()
    for key, value in trained.items():
        assert torch.equal(restored[key], value), key
    assert resumed.epoch == 2 and resumed.iter == 4
    resumed.train()  # and training goes on from there
    assert resumed.iter == 6
    assert resumed.model.head.alpha == pytest.approx(5 / 8, abs=1e-7)


def device_aug_cfg(work_dir, max_epochs: int):
    """The tiny run with the strong view's colours on the device (as the ImageNet recipe)."""
    cfg = tiny_cfg(work_dir, max_epochs)
    crop_flip = [dict(type='ContiguousRandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0),
                      backend='pillow'),
                 dict(type='RandomFlip', prob=0.5)]
    cfg.train_dataloader.dataset.pipeline[0].transforms = [crop_flip, crop_flip]
    colour = [dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
                   prob=0.8),
              dict(type='RandomGrayscale', prob=0.2, channel_weights=(0.114, 0.587, 0.2989)),
              dict(type='GaussianBlur', sigma_range=(0.1, 2.0), prob=0.5)]
    cfg.model.data_preprocessor = dict(cfg.model.data_preprocessor,
                                       type='ViewAugmentDataPreprocessor',
                                       view_pipelines=[[], colour])
    cfg.randomness = dict(seed=0)
    return cfg


def test_resume_repeats_the_device_augmentations(tmp_path, monkeypatch):
    """Two epochs in one go, and one epoch + resume + one epoch, train the same teacher
    and queues: the preprocessor's generator is saved and restored. Without the
    restore (second resume) they differ, so the comparison sees it."""
    from cgh_mm.runtime.hooks import random_state_hook

    reference = Runner.from_cfg(device_aug_cfg(tmp_path / 'reference', max_epochs=2))
    reference.train()
    expected = cgh_state(reference.model)
    Runner.from_cfg(device_aug_cfg(tmp_path / 'first', max_epochs=1)).train()

    def resume(name):
        cfg = device_aug_cfg(tmp_path / name, max_epochs=2)
        cfg.resume, cfg.load_from = True, str(tmp_path / 'first' / 'epoch_1.pth')
        runner = Runner.from_cfg(cfg)
        runner.train()
        return cgh_state(runner.model)

    got = resume('resumed')
    for key, value in expected.items():
        assert torch.equal(got[key], value), key
    monkeypatch.setattr(random_state_hook, 'module_generators', lambda model: {})
    unrestored = resume('unrestored')
    assert not torch.equal(unrestored['global_queue'], expected['global_queue'])


def test_another_global_batch_is_refused_before_training(tmp_path):
    # 48 images in batches of 16: 3 iterations, the queue pointer ends at slot 48
    cfg = tiny_cfg(tmp_path / 'run', max_epochs=1)
    cfg.train_dataloader.dataset.num_images = 48
    Runner.from_cfg(cfg).train()
    checkpoint = str(tmp_path / 'run' / 'epoch_1.pth')

    # --resume with 8 images per iteration (e.g. another process count) instead of 16
    cfg = tiny_cfg(tmp_path / 'resumed', max_epochs=2)
    cfg.train_dataloader.update(batch_size=8)
    cfg.train_dataloader.dataset.num_images = 48  # the same data (other data is refused too)
    cfg.update(resume=True, load_from=checkpoint)
    for build in (Runner.from_cfg, runner_without_config):  # the latter: its cfg empty
        cfg.experiment_name = f'test_{uuid.uuid4().hex}'  # mmengine keys its logger by it
        runner = build(cfg)
        with raises_stating(ValueError, checkpoint, '16 (1 process x 16)', '8 (1 process x 8)'):
            runner.train()
        assert not list((tmp_path / 'resumed').glob('*.pth'))  # nothing trained, nothing saved

    # load_from with batches of 32: the pointer at slot 48 is not on a batch slot
    cfg = tiny_cfg(tmp_path / 'loaded', max_epochs=4)
    cfg.train_dataloader.update(batch_size=32)
    cfg.train_dataloader.dataset.num_images = 32
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    with raises_stating(ValueError, 'slot 48', 'global batch 32'):
        runner.train()
    assert runner.iter == 0 and not list((tmp_path / 'loaded').glob('*.pth'))
