"""The guard of tests/conftest.py: work that belongs behind the slow marker fails a test
without it, so that ``pytest -m "not slow"`` stays fast."""
import multiprocessing
import subprocess
import sys

import pytest
from mmengine.runner import Runner

from tests.helpers import raises_stating

FAILED = pytest.fail.Exception


def test_a_subprocess_fails_a_test_not_marked_slow(request):
    # the test, what it started, and the marker it needs
    with raises_stating(FAILED, request.node.nodeid, sys.executable, '@pytest.mark.slow'):
        subprocess.run([sys.executable, '-c', 'pass'])
    with raises_stating(FAILED, request.node.nodeid, 'true', '@pytest.mark.slow'):
        subprocess.run('true', shell=True)
    subprocess.run(['uname'], stdout=subprocess.DEVNULL)  # a library's machine probe is not


def test_a_process_or_a_runner_fails_a_test_not_marked_slow(tmp_path, request):
    with raises_stating(FAILED, request.node.nodeid, 'process', '@pytest.mark.slow'):
        multiprocessing.get_context('spawn').Process(target=print).start()
    with raises_stating(FAILED, request.node.nodeid, 'Runner', '@pytest.mark.slow'):
        Runner(model=dict(type='ResNet', depth=18), work_dir=str(tmp_path))


@pytest.mark.slow
def test_a_test_marked_slow_may_start_a_subprocess():
    assert subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True,
                          text=True).stdout == '42\n'
