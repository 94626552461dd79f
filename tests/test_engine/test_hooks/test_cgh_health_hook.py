import glob
import json
import os.path as osp
import uuid
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpretrain.engine.hooks import WarmupParamHook

from cgh_mm.engine.hooks import CGHHealthHook
from cgh_mm.engine.hooks import cgh_health_hook as module
from cgh_mm.models import CGH
from tests.helpers import raises_stating, tiny_runner_cfg


def fake_runner(queue_len=4096, batch=64, dataset=6400, warmup_epochs=0.25, epochs=10,
                alpha=1.0, queue_ptr=0, drop_last=True):
    batch_sampler = SimpleNamespace(batch_size=batch, drop_last=drop_last,
                                    sampler=range(dataset))
    loader = SimpleNamespace(batch_size=batch, dataset=range(dataset), batch_sampler=batch_sampler)
    hooks = [WarmupParamHook('alpha', 'head', warmup_epochs)] if warmup_epochs else []
    model = SimpleNamespace(queue_len=queue_len, head=SimpleNamespace(alpha=alpha),
                            queue_ptr=torch.tensor([queue_ptr]))
    # the hook asks the model, as it asks a real CGH
    model.check_queue_fits_batch = lambda *args: CGH.check_queue_fits_batch(model, *args)
    return SimpleNamespace(model=model, train_dataloader=loader, epoch=0,
                           hooks=hooks, max_epochs=epochs,
                           max_iters=epochs * (dataset // batch),
                           message_hub=MessageHub.get_instance('cgh_health_test'))


def test_warmup_shorter_than_a_refill_is_refused_with_the_numbers(logged):
    # 0.25 epoch x 100 iterations = 25 iterations < 4096 / 64 = 64 iterations
    with pytest.raises(ValueError) as info:
        CGHHealthHook().before_train(fake_runner())
    message = str(info.value)  # the numbers, and the three ways out
    for fact in ('25 iterations', 'queue_len 4096', 'global batch 64', '64 iterations',
                 'warmup_epochs=0.64', 'model.queue_len <= 1600', 'strict_warmup=False'):
        assert fact in message, fact
    # the same run is only warned about when asked
    CGHHealthHook(strict_warmup=False).before_train(fake_runner())
    assert len(logged) == 1 and '25 iterations' in logged[0]


def test_no_warmup_hook_counts_as_no_warmup():
    with raises_stating(ValueError, '0 iterations', 'warmup_epochs'):
        CGHHealthHook().before_train(fake_runner(warmup_epochs=0))


def test_a_warmup_that_outlasts_a_refill_passes(logged):
    CGHHealthHook().before_train(fake_runner(warmup_epochs=0.64))  # exactly 64 iterations
    CGHHealthHook().before_train(fake_runner(warmup_epochs=5))
    assert logged == []


def test_queue_longer_than_the_dataset_is_warned_about(logged):
    CGHHealthHook().before_train(fake_runner(queue_len=8192, dataset=6400, warmup_epochs=2))
    assert len(logged) == 1
    assert '8192' in logged[0] and '6400' in logged[0] and 'model.queue_len' in logged[0]


def test_queue_that_does_not_fit_the_global_batch():
    with raises_stating(ValueError, 'queue_len=4000', 'global batch', '64'):
        CGHHealthHook().before_train(fake_runner(queue_len=4000, warmup_epochs=5))


def run_iterations(hook, runner, alpha, hyper_entropy, global_entropy, iterations):
    for _ in range(iterations):
        runner.message_hub.update_scalar('train/alpha', alpha)
        runner.message_hub.update_scalar('train/health/hyper_target_entropy', hyper_entropy)
        runner.message_hub.update_scalar('train/health/global_target_entropy', global_entropy)
        hook.after_train_iter(runner, 0)


def test_flat_targets_after_the_warmup_are_warned_about_once(logged):
    hook, runner = CGHHealthHook(window=5), fake_runner()
    run_iterations(hook, runner, 1.0, 0.9999, 0.85, 4)
    assert logged == []  # not yet a sustained window
    run_iterations(hook, runner, 1.0, 0.9999, 0.85, 20)
    assert len(logged) == 1  # once, and only for the flat one
    assert 'loss_hyper' in logged[0] and 'loss_global' not in logged[0]
    assert 'uniform' in logged[0]  # what a flat target is


def test_healthy_or_warming_up_runs_are_not_warned_about(logged):
    hook, runner = CGHHealthHook(window=5), fake_runner()
    run_iterations(hook, runner, 0.5, 1.0, 1.0, 20)  # flat, but still in the warm-up
    run_iterations(hook, runner, 1.0, 0.95, 0.9, 20)  # informative targets
    # flat spells shorter than the window do not add up
    for _ in range(5):
        run_iterations(hook, runner, 1.0, 0.9999, 0.9999, 4)
        run_iterations(hook, runner, 1.0, 0.95, 0.95, 1)
    assert logged == []


def test_alpha_held_at_zero_needs_no_warmup(logged):
    # InfoNCE for the whole schedule (the study's control): no relational target to go flat.
    CGHHealthHook().before_train(fake_runner(warmup_epochs=0, alpha=0.0))
    assert not any('WarmupParamHook' in m for m in logged)
    # no warm-up but a relational loss: the refill it needs and the hook that gives it
    with raises_stating(ValueError, '0 iterations', '64 iterations', "type='WarmupParamHook'",
                        'strict_warmup=False'):
        CGHHealthHook().before_train(fake_runner(warmup_epochs=0, alpha=0.5))


def test_a_partial_last_batch_is_refused_before_training():
    # 6410 images per process in batches of 64: the last batch of every epoch holds 10
    with pytest.raises(ValueError) as info:
        CGHHealthHook().before_train(fake_runner(dataset=6410, drop_last=False, warmup_epochs=5))
    message = str(info.value)
    assert 'drop_last=False' in message and '6410 images' in message
    assert '10 images' in message and 'train_dataloader.drop_last=True' in message
    # drop_last=False is harmless when every batch is full
    CGHHealthHook().before_train(fake_runner(dataset=6400, drop_last=False, warmup_epochs=5))


def test_a_partial_batch_from_a_batch_sampler_is_refused_at_its_step():
    hook, runner = CGHHealthHook(), fake_runner(warmup_epochs=5)
    hook.before_train(runner)
    full = dict(inputs=[torch.zeros(64, 3, 8, 8)] * 2)
    hook.before_train_iter(runner, 0, full)
    with raises_stating(ValueError, 'batch 3', 'epoch 1', '10 images', '64', 'drop_last=True'):
        hook.before_train_iter(runner, 2, dict(inputs=[torch.zeros(10, 3, 8, 8)] * 2))


def test_a_queue_pointer_off_the_global_batch_is_refused(monkeypatch):
    # load_from a checkpoint of a run with batches of 16: pointer at slot 48, batches of 64
    with pytest.raises(ValueError) as info:
        CGHHealthHook().before_train(fake_runner(queue_ptr=48, warmup_epochs=5))
    message = str(info.value)
    for fact in ('slot 48', 'global batch 64', '1 process x 64', 'queue_len 4096'):
        assert fact in message, fact
    CGHHealthHook().before_train(fake_runner(queue_ptr=128, warmup_epochs=5))


def test_resume_with_another_global_batch_is_refused_with_the_numbers(monkeypatch):
    hook, checkpoint = CGHHealthHook(), dict(meta=dict(epoch=1))
    monkeypatch.setattr(module, 'get_world_size', lambda: 2)
    hook.before_save_checkpoint(fake_runner(batch=16), checkpoint)
    assert checkpoint['meta'] == dict(epoch=1, batch_size=16, world_size=2)

    def resuming(batch, world_size):
        monkeypatch.setattr(module, 'get_world_size', lambda: world_size)
        runner = fake_runner(batch=batch)
        runner.cfg = Config(dict(resume=True, load_from='work_dirs/x/epoch_1.pth'))
        return runner

    # the same global batch of 32, split over 4 processes, continues the same schedule
    hook.after_load_checkpoint(resuming(batch=8, world_size=4), checkpoint)
    with pytest.raises(ValueError) as info:
        hook.after_load_checkpoint(resuming(batch=16, world_size=1), checkpoint)
    message = str(info.value)
    # the checkpoint, both global batches and their splits, and the two fixes
    for fact in ('work_dirs/x/epoch_1.pth', 'global batch of 32', '2 processes x 16',
                 '1 process x 16', '1 process x 32', 'train_dataloader.batch_size=32',
                 'load_from=PATH'):
        assert fact in message, fact
    # a plain load_from keeps nothing of the schedule: only the queue pointer is checked
    runner = resuming(batch=16, world_size=1)
    runner.cfg.resume = False
    hook.after_load_checkpoint(runner, checkpoint)


CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
                   'configs')
IN1K = osp.join(CONFIGS, 'cgh', 'cgh_resnet50_8xb32-coslr-200e_in1k.py')


def with_config(cfg: Config):
    runner = fake_runner(warmup_epochs=5)
    runner.cfg = cfg
    return runner


def test_device_augmentation_data_with_a_plain_preprocessor_is_refused(tmp_path):
    # The recipe of the dataset base's own comment, without its preprocessor line: the
    # strong view was the plain normalisation of its crop.
    recipe = tmp_path / 'recipe.py'
    bases = [osp.join(CONFIGS, '_base_', p) for p in (
        'models/cgh_r50.py', 'datasets/imagenet_cgh_device-aug.py',
        'schedules/sgd_coslr_200e.py', 'default_runtime.py')]
    recipe.write_text(f'_base_ = {bases!r}\n')
    cfg = Config.fromfile(str(recipe), import_custom_modules=False)
    with raises_stating(ValueError, 'view 1', 'no colour augmentation', 'SelfSupDataPreprocessor',
                        'data_preprocessor={{_base_.view_augment_preprocessor}}',
                        'require_colour_augmentation=False'):
        CGHHealthHook().before_train(with_config(cfg))
    CGHHealthHook(require_colour_augmentation=False).before_train(with_config(cfg))  # an ablation


def test_cpu_colour_pipeline_with_the_device_preprocessor_is_refused():
    cfg = Config.fromfile(IN1K, import_custom_modules=False)
    cfg.train_dataloader.dataset.pipeline = cfg.cpu_aug_train_pipeline
    with raises_stating(ValueError, 'view 1', 'ColorJitter', 'GaussianBlur', 'RandomGrayscale',
                        'twice', 'view_pipelines=[[], []]'):
        CGHHealthHook().before_train(with_config(cfg))


def test_view_counts_that_do_not_fit_the_model_are_refused():
    multicrop = IN1K.replace('_in1k.py', '_in1k_multicrop.py')
    cfg = Config.fromfile(multicrop, import_custom_modules=False)
    cfg.model.num_local_crops = 0  # 6 views made, 2 taken
    with raises_stating(ValueError, 'got 6', 'model.num_local_crops=4'):
        CGHHealthHook().before_train(with_config(cfg))
    cfg = Config.fromfile(multicrop, import_custom_modules=False)
    cfg.model.data_preprocessor.view_pipelines = cfg.model.data_preprocessor.view_pipelines[:2]
    with raises_stating(ValueError, 'view_pipelines has 2', '6 views'):
        CGHHealthHook().before_train(with_config(cfg))


@pytest.mark.parametrize('config', sorted(
    glob.glob(osp.join(CONFIGS, 'cgh', '*.py')) + glob.glob(osp.join(CONFIGS, 'study', 'cgh*.py'))
    + [osp.join(CONFIGS, 'cgh_r50_8xb256.py')]), ids=osp.basename)
def test_the_shipped_recipes_pair_their_views(config):
    cfg = Config.fromfile(config, import_custom_modules=False)
    assert 'CGHHealthHook' in [hook['type'] for hook in cfg.custom_hooks]
    CGHHealthHook().before_train(with_config(cfg))


def test_loss_nce_is_logged_afresh_once_it_is_not_computed():
    # After the warm-up the log showed the mean of a window of warm-up values of loss_nce
    # (0.72) next to alpha 1, while loss_nce is no longer computed.
    runner = fake_runner()
    hub = runner.message_hub = MessageHub.get_instance(f'loss_nce_{uuid.uuid4().hex}')
    for value in (0.9, 0.72):
        hub.update_scalar('train/loss_nce', value)
    runner.model.head = SimpleNamespace(alpha=0.5, computes_nce=True)
    hook = CGHHealthHook()
    hook.before_train_iter(runner, 0)
    assert hub.get_scalar('train/loss_nce').mean(10) == pytest.approx(0.81)  # warming up
    hub.update_scalar('train/alpha', 0.5)
    runner.model.head = SimpleNamespace(alpha=1.0, computes_nce=False)
    hook.before_train_iter(runner, 1)
    hub.update_scalar('train/loss_nce', 0.0)  # what the head returns from then on
    assert hub.get_scalar('train/loss_nce').mean(10) == 0.0
    assert list(hub.log_scalars) == ['train/loss_nce', 'train/alpha']  # its place in the log
    # once: the later iterations' zeros are kept
    buffer = hub.get_scalar('train/loss_nce')
    hook.before_train_iter(runner, 2)
    hub.update_scalar('train/loss_nce', 0.0)
    assert hub.get_scalar('train/loss_nce') is buffer and buffer.data[0].tolist() == [0.0, 0.0]
    # a resumed run (its message hub holds warm-up values) starts the log afresh too
    hub.update_scalar('train/loss_nce', 0.9)
    resumed = CGHHealthHook()
    resumed.before_train_iter(runner, 0)
    assert len(hub.get_scalar('train/loss_nce').data[0]) == 0


@pytest.mark.slow
def test_the_log_shows_no_warmup_loss_nce_at_alpha_1(tmp_path):
    from mmengine.runner import Runner

    cfg = tiny_runner_cfg(tmp_path, max_epochs=5)  # 8 warm-up iterations, then 2 at alpha 1
    cfg.log_processor.window_size = 10
    Runner.from_cfg(cfg).train()
    with open(glob.glob(str(tmp_path / '*' / 'vis_data' / 'scalars.json'))[0]) as f:
        rows = [json.loads(line) for line in f]
    assert [row['step'] for row in rows if row['alpha'] == 1] == [9, 10]
    assert all(row['loss_nce'] > 0 for row in rows if row['alpha'] < 1)
    for row in rows:
        if row['alpha'] == 1:  # not computed: 0, not a mean over warm-up iterations
            assert row['loss_nce'] == 0, row
