"""QuietOptimWrapperConstructor: mmengine's parameter groups, one log line instead of one per
parameter and a warning per tensor of the EMA teacher."""
import logging

import pytest
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper

from tests.helpers import build_cgh

OPTIM_WRAPPER = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4),
                     paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))


@pytest.fixture
def log_records():
    """Every record of mmengine's current logger during the test, as (level, message)."""
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: records.append((record.levelno, record.getMessage()))
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def groups(optim_wrapper):
    return [(tuple(id(p) for p in group['params']), group.get('weight_decay'))
            for group in optim_wrapper.optimizer.param_groups]


def test_same_groups_as_mmengine_in_one_log_line(log_records):
    model = build_cgh()
    default = build_optim_wrapper(model, OPTIM_WRAPPER)
    noisy = [message for level, message in log_records if level >= logging.INFO]
    del log_records[:]
    quiet = build_optim_wrapper(model, dict(OPTIM_WRAPPER,
                                            constructor='QuietOptimWrapperConstructor'))
    said = [message for level, message in log_records if level >= logging.INFO]

    assert groups(quiet) == groups(default)
    trainable = [p for p in model.parameters() if p.requires_grad]
    frozen = sum(1 for p in model.parameters() if not p.requires_grad)
    assert frozen > 0  # the EMA teacher
    no_decay = sum(1 for _, decay in groups(default) if decay == 0)
    assert len(groups(default)) == len(trainable) and 0 < no_decay < len(trainable)
    # mmengine: a warning per teacher tensor, a line per parameter its rules touch
    assert sum('requires_grad=False' in m for m in noisy) == frozen
    assert len(noisy) > frozen + no_decay - 1
    assert len(said) == 1
    assert all(str(n) in said[0] for n in (len(trainable), no_decay, frozen)), said
