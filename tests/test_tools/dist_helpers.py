"""Helpers for tests that start tools as subprocesses."""
import os
import socket
import sys
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'configs' / 'cgh' / 'cgh_resnet18_1xb16-2e_synthetic.py'
# A stand-in executable that records how it was called: its own path, PYTHONPATH, then
# its arguments, appended to $CALLS.
STUB = '#!/usr/bin/env bash\nprintf "%s\\n" "CALL $0" "PYTHONPATH=$PYTHONPATH" "$@" >> "$CALLS"\n'


def write_stub(path: Path, text: str = STUB) -> Path:
    """An executable script at ``path`` (folders created) that runs ``text``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tool_env(**extra: str) -> Dict[str, str]:
    """The environment of a tool subprocess: this interpreter, this checkout first."""
    env = dict(os.environ)
    env['PYTHON'] = sys.executable
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['OMP_NUM_THREADS'] = '1'
    env.update(extra)
    return env
