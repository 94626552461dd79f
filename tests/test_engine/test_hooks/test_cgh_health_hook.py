from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub
from mmpretrain.engine.hooks import WarmupParamHook

from cgh_mm.engine.hooks import CGHHealthHook
from cgh_mm.engine.hooks import cgh_health_hook as module


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kwargs: messages.append(msg))
    return messages


def fake_runner(queue_len=4096, batch=64, dataset=6400, warmup_epochs=0.25, epochs=10,
                alpha=1.0):
    loader = SimpleNamespace(batch_size=batch, dataset=range(dataset))
    hooks = [WarmupParamHook('alpha', 'head', warmup_epochs)] if warmup_epochs else []
    model = SimpleNamespace(queue_len=queue_len, head=SimpleNamespace(alpha=alpha))
    return SimpleNamespace(model=model, train_dataloader=loader,
                           hooks=hooks, max_epochs=epochs,
                           max_iters=epochs * (dataset // batch),
                           message_hub=MessageHub.get_instance('cgh_health_test'))


def test_warmup_shorter_than_a_refill_is_refused_with_the_numbers(logged):
    # 0.25 epoch x 100 iterations = 25 iterations < 4096 / 64 = 64 iterations
    with pytest.raises(ValueError) as info:
        CGHHealthHook().before_train(fake_runner())
    message = str(info.value)
    assert 'ends after 25 iterations' in message
    assert 'queue_len 4096 / global batch 64 = 64 iterations' in message
    assert 'warmup_epochs=0.64' in message and 'model.queue_len <= 1600' in message
    assert 'strict_warmup=False' in message
    # the same run is only warned about when asked
    CGHHealthHook(strict_warmup=False).before_train(fake_runner())
    assert len(logged) == 1 and 'ends after 25 iterations' in logged[0]


def test_no_warmup_hook_counts_as_no_warmup():
    with pytest.raises(ValueError, match=r'ends after 0 iterations'):
        CGHHealthHook().before_train(fake_runner(warmup_epochs=0))


def test_a_warmup_that_outlasts_a_refill_passes(logged):
    CGHHealthHook().before_train(fake_runner(warmup_epochs=0.64))  # exactly 64 iterations
    CGHHealthHook().before_train(fake_runner(warmup_epochs=5))
    assert logged == []


def test_queue_longer_than_the_dataset_is_warned_about(logged):
    CGHHealthHook().before_train(fake_runner(queue_len=8192, dataset=6400, warmup_epochs=2))
    assert len(logged) == 1
    assert 'queue (8192 slots) is longer than the training set (6400 images)' in logged[0]


def test_queue_that_does_not_fit_the_global_batch():
    with pytest.raises(ValueError, match='queue_len=4000 is not a multiple'):
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
    assert 'target of loss_hyper (the teacher\'s global relations)' in logged[0]
    assert 'no learning signal' in logged[0]


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
