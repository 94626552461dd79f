import logging
import multiprocessing.process
import os
import subprocess

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner

import cgh_mm.datasets  # noqa: F401  (each sub-package registers its modules)
import cgh_mm.engine  # noqa: F401
import cgh_mm.evaluation  # noqa: F401
import cgh_mm.models  # noqa: F401
import cgh_mm.runtime  # noqa: F401
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
def _torch_allow_list_restored():
    """Each test starts from torch's ``weights_only`` allow-list as the one before it did:
    a run a test makes fail while it loads keeps CheckpointGlobalsHook's classes allowed
    (mmengine calls no hook when a run raises, so the hook's close never comes)."""
    before = torch.serialization.get_safe_globals()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(before)


# What libraries run once to probe the machine when first imported or used (ctypes'
# find_library, numpy.testing, joblib's core count): not a test's subprocess.
MACHINE_PROBES = {'cc', 'gcc', 'ld', 'ldconfig', 'lscpu', 'objdump', 'uname'}


@pytest.fixture(autouse=True)
def _slow_work_needs_the_slow_marker(request, monkeypatch):
    """A test not marked ``slow`` fails if it builds a Runner or starts a process, so
    that ``-m "not slow"`` stays fast as tests are added."""
    if request.node.get_closest_marker('slow') is not None:
        return

    def refuse(what):
        pytest.fail(f'{request.node.nodeid} {what}: mark it @pytest.mark.slow', pytrace=False)

    def popen(self, args, *rest, **kwargs):
        program = os.fsdecode(args if isinstance(args, (str, bytes, os.PathLike)) else args[0])
        if os.path.basename(program.split()[0]) not in MACHINE_PROBES:
            refuse(f'starts a subprocess ({program})')
        return start_popen(self, args, *rest, **kwargs)

    start_popen = subprocess.Popen.__init__
    monkeypatch.setattr(Runner, '__init__', lambda *a, **k: refuse('builds an mmengine Runner'))
    monkeypatch.setattr(subprocess.Popen, '__init__', popen)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, 'start',
                        lambda self: refuse('starts a process'))
