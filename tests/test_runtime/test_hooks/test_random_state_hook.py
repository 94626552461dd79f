import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from mmengine.config import Config

from cgh_mm.runtime import load_checkpoint_safely
from cgh_mm.runtime.hooks import capture_random_state, restore_random_state


def draws():
    return (random.random(), random.gauss(0, 1), np.random.rand(3).tolist(),
            np.random.normal(), torch.rand(3).tolist())


def test_restored_generators_repeat_their_draws_after_a_weights_only_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(1)
    random.gauss(0, 1)  # leaves a cached gaussian in python's generator
    np.random.normal()
    path = tmp_path / 'state.pth'
    torch.save(dict(random_state=[capture_random_state()]), path)
    expected = draws()
    assert draws() != expected  # the generators did move on
    restore_random_state(load_checkpoint_safely(str(path))['random_state'][0])
    assert draws() == expected


def _rank_round_trip(rank: int, tmp_dir: str) -> None:
    """Each rank: seed differently, let the hook gather, rank 0 saves, all restore."""
    import torch.distributed as dist

    from cgh_mm.runtime.hooks import RandomStateHook

    dist.init_process_group('gloo', init_method=f'file://{tmp_dir}/init', rank=rank,
                            world_size=2)
    torch.manual_seed(100 + rank)
    hook = RandomStateHook()
    runner = SimpleNamespace(cfg=Config(dict(resume=True)), iter=0, max_iters=1, hooks=[],
                             train_loop=None, train_dataloader=[0])
    hook.after_train_iter(runner, 0)
    expected = torch.rand(4)
    if rank == 0:  # Runner.save_checkpoint runs on rank 0 only
        checkpoint = {}
        hook.before_save_checkpoint(runner, checkpoint)
        torch.save(checkpoint, f'{tmp_dir}/ckpt.pth')
    dist.barrier()
    checkpoint = load_checkpoint_safely(f"{tmp_dir}/ckpt.pth")
    hook.after_load_checkpoint(runner, checkpoint)
    torch.rand(4)  # mmengine re-seeds and builds things in between
    hook.before_train(runner)
    torch.save(dict(expected=expected, got=torch.rand(4)), f'{tmp_dir}/rank{rank}.pth')
    dist.destroy_process_group()


@pytest.mark.slow
def test_every_rank_gets_its_own_state_back(tmp_path):
    # fork: the children only draw a few numbers and talk over gloo, and
    # re-importing the stack in spawned children would cost most of the test
    mp.start_processes(_rank_round_trip, args=(str(tmp_path), ), nprocs=2, join=True,
                       start_method='fork')
    results = [load_checkpoint_safely(str(tmp_path / f"rank{r}.pth")) for r in range(2)]
    for result in results:
        assert torch.equal(result['got'], result['expected'])
    assert not torch.equal(results[0]['got'], results[1]['got'])


def test_states_are_gathered_only_where_a_checkpoint_may_follow(monkeypatch):
    from mmengine.hooks import CheckpointHook

    from cgh_mm.runtime.hooks import RandomStateHook
    from cgh_mm.runtime.hooks import random_state_hook as module

    gathered_at = []
    monkeypatch.setattr(module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(module, 'all_gather_object',
                        lambda state: gathered_at.append(runner.iter) or [state, state])
    for checkpoint_hook, expected in ((CheckpointHook(interval=3, by_epoch=False), [2, 4, 5, 8, 9]),
                                      (CheckpointHook(interval=1, by_epoch=True), [4, 9])):
        gathered_at.clear()
        hook = RandomStateHook()
        for it in range(10):  # two epochs of 5 iterations
            runner = SimpleNamespace(iter=it, max_iters=10, hooks=[checkpoint_hook],
                                     train_loop=None, train_dataloader=range(5))
            hook.after_train_iter(runner, it % 5)
        assert gathered_at == expected
        checkpoint = {}
        hook.before_save_checkpoint(runner, checkpoint)
        assert len(checkpoint['random_state']) == 2  # every rank's state


def model_with_augmenting_preprocessor() -> torch.nn.Module:
    from cgh_mm.models.data_preprocessors import ViewAugmentDataPreprocessor

    model = torch.nn.Module()
    model.data_preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[[]])
    return model


def test_a_modules_own_generator_is_saved_and_restored_on_resume(tmp_path):
    """ViewAugmentDataPreprocessor draws from its own generator: a resume repeats its
    draws too (checkpoint loaded with weights_only, as mmengine does here)."""
    from cgh_mm.runtime.hooks import RandomStateHook

    model = model_with_augmenting_preprocessor()
    generator = model.data_preprocessor.generator
    runner = SimpleNamespace(cfg=Config(dict(resume=True)), model=model)
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    assert set(checkpoint['random_state'][0]['generators']) == {'data_preprocessor'}
    torch.save(checkpoint, tmp_path / 'ckpt.pth')
    expected = torch.rand(5, generator=generator)
    hook.after_load_checkpoint(runner, load_checkpoint_safely(str(tmp_path / "ckpt.pth")))
    generator.manual_seed(123)  # the resumed run builds a freshly seeded preprocessor
    hook.before_train(runner)
    assert torch.equal(torch.rand(5, generator=generator), expected)


def test_a_checkpoint_without_a_modules_generator_state_warns(monkeypatch):
    from cgh_mm.runtime.hooks import random_state_hook as module

    messages = []
    monkeypatch.setattr(module, 'print_log', lambda message, **kwargs: messages.append(message))
    model = model_with_augmenting_preprocessor()
    restore_random_state(capture_random_state(), module.module_generators(model))
    assert len(messages) == 1 and '`data_preprocessor`' in messages[0]


def test_validation_leaves_the_generators_as_it_found_them():
    # A checkpoint is written before the validation that follows it: a validation that
    # drew from the generators made the resumed run differ from the uninterrupted one.
    from cgh_mm.runtime.hooks import RandomStateHook

    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    without_validation = draws()
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    hook = RandomStateHook()
    hook.before_val_epoch(None)
    draws()  # what validation's loaders and transforms take
    hook.after_val_epoch(None, metrics={})
    assert draws() == without_validation


@pytest.mark.slow
def test_a_runner_built_without_a_config_restores_the_random_states_on_resume(tmp_path):
    # Runner(..., resume=True, load_from=...) has an empty cfg: it was taken for a load_from
    from mmengine.runner import Runner

    from cgh_mm.runtime.hooks import RandomStateHook
    from tests.helpers import runner_without_config, tiny_runner_cfg

    Runner.from_cfg(tiny_runner_cfg(tmp_path / 'run', max_epochs=1)).train()
    checkpoint = str(tmp_path / 'run' / 'epoch_1.pth')
    saved = load_checkpoint_safely(checkpoint)['random_state'][0]
    runner = runner_without_config(tiny_runner_cfg(tmp_path / 'resumed', max_epochs=2),
                                   resume=True, load_from=checkpoint)
    assert not runner.cfg
    runner.call_hook('before_run')  # as train() does before it loads
    runner.load_or_resume()
    hook = next(h for h in runner.hooks if isinstance(h, RandomStateHook))
    hook.before_train(runner)
    assert torch.equal(torch.get_rng_state(), saved['torch'])
    assert random.getstate() == saved['python']
