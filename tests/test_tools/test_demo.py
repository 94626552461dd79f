"""tools/demo.py starts as a user starts it (a subprocess: only the demo's own imports).
Its whole run takes minutes: `make demo`."""
import subprocess
import sys

import pytest

from .dist_helpers import REPO, tool_env


@pytest.mark.slow
def test_the_demo_imports_what_it_uses_and_says_what_it_does():
    out = subprocess.run([sys.executable, str(REPO / 'tools' / 'demo.py'), '--help'], cwd=REPO,
                         env=tool_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('The CGH demo') == 1
    for option in ('--work-dir', '--data-root', '--fashion-mnist-src', '--memory-size'):
        assert option in out.stdout
