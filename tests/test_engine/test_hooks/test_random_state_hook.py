import random

import numpy as np
import torch

from cgh_mm.engine.hooks import capture_random_state, restore_random_state


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
    restore_random_state(torch.load(path, weights_only=True)['random_state'][0])
    assert draws() == expected
