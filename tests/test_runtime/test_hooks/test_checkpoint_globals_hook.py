import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer

from cgh_mm.runtime.hooks import CheckpointGlobalsHook
from tests.helpers import raises_stating


def test_the_hook_allows_the_classes_for_the_run_only(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(3.0)
    path = tmp_path / 'hub.pth'
    torch.save(dict(buffer=buffer), path)
    before = set(map(repr, torch.serialization.get_safe_globals()))  # a set in torch
    with raises_stating(pickle.UnpicklingError, 'HistoryBuffer'):
        torch.load(path, weights_only=True)  # what mmengine's resume does
    hook = CheckpointGlobalsHook()
    hook.before_run(None)
    hook.before_run(None)  # entered once: one exit restores the list
    assert torch.load(path, weights_only=True)['buffer'].current() == 3.0
    hook.after_run(None)
    assert set(map(repr, torch.serialization.get_safe_globals())) == before


@pytest.mark.slow
def test_a_run_that_fails_in_training_leaves_the_allow_list_as_it_was(tmp_path):
    """mmengine calls no hook when a run raises: the classes are allowed only while mmengine
    loads (before_run to the loop's start), so a failed step cannot leave them allowed."""
    from mmengine.runner import Runner

    from tests.helpers import tiny_runner_cfg

    before = set(map(repr, torch.serialization.get_safe_globals()))
    runner = Runner.from_cfg(tiny_runner_cfg(tmp_path, max_epochs=1))
    allowed_in_step = []

    def failing_step(*args, **kwargs):
        allowed_in_step.append(set(map(repr, torch.serialization.get_safe_globals())))
        raise RuntimeError('step failed')

    runner.model.train_step = failing_step
    with raises_stating(RuntimeError, 'step failed'):
        runner.train()
    assert allowed_in_step == [before]
    assert set(map(repr, torch.serialization.get_safe_globals())) == before
