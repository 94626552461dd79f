import logging
import multiprocessing.process
import subprocess

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner

import cgh_mm  # noqa: F401  (registers the modules)
from tests.helpers import tiny_cgh_cfg as _tiny_cgh_cfg


@pytest.fixture
def tiny_cgh_cfg():
    """Config dict of the tests' tiny CGH (ResNet-18, 32-d embeddings, queue of 64)."""
    return _tiny_cgh_cfg()


@pytest.fixture
def logged():
    """The messages of the warnings logged during the test through mmengine's current
    logger (``print_log(..., logger='current')``), as a user's log would show them."""
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _slow_work_needs_the_slow_marker(request, monkeypatch):
    """A test not marked ``slow`` fails if it builds a Runner or starts a process, so
    that ``-m "not slow"`` stays fast as tests are added."""
    if request.node.get_closest_marker('slow') is not None:
        return

    def refuse(what):
        def refused(*args, **kwargs):
            pytest.fail(f'{request.node.nodeid} {what}: mark it @pytest.mark.slow',
                        pytrace=False)
        return refused

    monkeypatch.setattr(Runner, '__init__', refuse('builds an mmengine Runner'))
    monkeypatch.setattr(subprocess.Popen, '__init__', refuse('starts a subprocess'))
    monkeypatch.setattr(multiprocessing.process.BaseProcess, 'start',
                        refuse('starts a process'))
