from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.engine.hooks import WarmupParamHook

from cgh_mm.engine.hooks import CGHHealthHook
from cgh_mm.engine.hooks import cgh_health_hook as module
from cgh_mm.models import CGH
from tests.helpers import raises_stating


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
    assert not any('warm-up' in m for m in logged)
    with pytest.raises(ValueError, match='warm-up'):
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
        runner._resume, runner._load_from = True, 'work_dirs/x/epoch_1.pth'
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
    runner._resume = False
    hook.after_load_checkpoint(runner, checkpoint)
