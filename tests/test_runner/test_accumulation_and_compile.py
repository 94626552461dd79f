"""A real mmengine Runner on CPU with gradient accumulation and with ``compile=True``."""
import pytest
import torch
from mmengine.runner import Runner

from tests.helpers import tiny_runner_cfg

pytestmark = pytest.mark.slow


# mmengine steps its schedulers every iteration, the optimizer every accumulative_counts
@pytest.mark.filterwarnings('ignore:Detected call of `scheduler.step\\(\\)` before '
                            '`optimizer.step\\(\\)`:UserWarning:'
                            'mmengine\\.optim\\.scheduler\\.param_scheduler')
def test_accumulation_moves_the_teacher_once_per_optimizer_step(tmp_path):
    cfg = tiny_runner_cfg(tmp_path, max_epochs=2)  # 4 iterations of 16 images
    cfg.optim_wrapper.accumulative_counts = 2  # 2 optimizer steps
    # The queue takes every micro-batch's keys, so it must hold whole micro-batches
    # only (48 = 3 x 16, not a multiple of the 32 images of an optimizer step); the
    # warm-up (8 iterations) must outlast a refill counted in micro-batches (3).
    cfg.model.queue_len = 48
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    assert runner.iter == 4 and runner.optim_wrapper._inner_count == 4
    assert int(model.teacher.steps) == 2  # once per optimizer step, not per micro-batch
    assert int(model.state_dict()['queue_ptr']) == 4 * 16 % 48  # every micro-batch wrote


def test_compiled_training_matches_eager(tmp_path):
    # mmengine's compile=True compiles the model's train_step: CPU inductor here. Four
    # iterations: the warm-up changes the head's alpha at each, the queues are written
    # and the pointer moves, all without leaving the compiled graphs.
    losses = {}
    for compile_ in (False, True):
        torch._dynamo.reset()
        cfg = tiny_runner_cfg(tmp_path / str(compile_), max_epochs=2)
        cfg.compile = compile_
        cfg.randomness = dict(seed=0)
        runner = Runner.from_cfg(cfg)
        runner.train()
        losses[compile_] = torch.tensor(runner.message_hub.get_scalar('train/loss').data[0])
    assert len(losses[True]) == 4
    torch.testing.assert_close(losses[True], losses[False], rtol=1e-4, atol=1e-5)
