import pickle

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
