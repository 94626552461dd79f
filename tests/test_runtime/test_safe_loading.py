import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from cgh_mm.runtime import load_checkpoint_safely, mmengine_checkpoint_globals
from tests.helpers import raises_stating


def scoped_load(path):
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        return torch.load(path, weights_only=True)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null', ))


def test_mmengine_message_hub_state_loads_with_weights_only(tmp_path):
    hub = MessageHub.get_instance('safe_loading_test')
    hub.update_scalar('train/loss', np.float64(1.5))
    hub.update_scalar('train/lr', 0.1)
    hub.update_info('iter', 3)
    buffer = HistoryBuffer()
    buffer.update(2.0)
    state = dict(message_hub=hub.state_dict(), buffer=buffer,
                 arr=np.arange(3, dtype=np.int64), scalar=np.float64(0.25),
                 state_dict={'w': torch.ones(2)})
    path = tmp_path / 'ckpt.pth'
    torch.save(state, path)
    loaded = load_checkpoint_safely(str(path))
    assert loaded['message_hub']['runtime_info']['iter'] == 3
    assert loaded['buffer'].current() == 2.0
    assert loaded['scalar'] == 0.25
    assert loaded['arr'].tolist() == [0, 1, 2]


def test_a_code_running_pickle_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({"state_dict": _RunsCode()}, f, protocol=2)
    with raises_stating(pickle.UnpicklingError, 'system'):  # the global refused: os.system
        scoped_load(path)


@pytest.mark.slow
def test_history_buffer_statistics_load_in_a_process_that_made_no_buffer(tmp_path,
                                                                         monkeypatch):
    buffer = HistoryBuffer()
    buffer.update(1.0)
    path = tmp_path / 'hub.pth'
    torch.save(dict(buffer=buffer), path)
    # what a fresh process looks like: the built-ins are registered lazily
    monkeypatch.setattr(HistoryBuffer, '_statistics_methods', {})
    loaded = scoped_load(path)
    assert loaded['buffer'].mean() == 1.0


@pytest.mark.slow
def test_importing_cgh_mm_leaves_torch_and_matplotlib_as_they_were():
    # what the stack itself registers at import is taken as the user's state
    code = ('import torch, matplotlib, mmengine.runner, mmpretrain.models, mmcv.ops\n'
            'def state():  # torch keeps its allow-list in a set\n'
            '    globals_ = set(map(repr, torch.serialization.get_safe_globals()))\n'
            '    return globals_, matplotlib.get_backend()\n'
            'before = state()\n'
            'import cgh_mm, cgh_mm.evaluation, cgh_mm.runtime, cgh_mm.visualization\n'
            'after = state()\n'
            'print(before == after, after[1])\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env=dict(os.environ, MPLBACKEND='svg'))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['True', 'svg']
