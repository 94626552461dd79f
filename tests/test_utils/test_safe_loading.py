import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import cgh_mm  # noqa: F401  (adds the allow-list)


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
    loaded = torch.load(path, weights_only=True)
    assert loaded['message_hub']['runtime_info']['iter'] == 3
    assert loaded['buffer'].current() == 2.0
    assert loaded['scalar'] == 0.25
    assert loaded['arr'].tolist() == [0, 1, 2]


def test_a_code_running_pickle_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({"state_dict": _RunsCode()}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path, weights_only=True)


def test_history_buffer_statistics_load_in_a_process_that_made_no_buffer(tmp_path,
                                                                         monkeypatch):
    buffer = HistoryBuffer()
    buffer.update(1.0)
    path = tmp_path / 'hub.pth'
    torch.save(dict(buffer=buffer), path)
    # what a fresh process looks like: the built-ins are registered lazily
    monkeypatch.setattr(HistoryBuffer, '_statistics_methods', {})
    loaded = torch.load(path, weights_only=True)
    assert loaded['buffer'].mean() == 1.0
