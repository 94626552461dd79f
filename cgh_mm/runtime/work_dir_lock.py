"""An exclusive lock of a folder for one process at a time (a run's work dir)."""
import fcntl
import os
import os.path as osp
import socket
import time
from typing import Callable


def lock_folder(folder: str, lock_name: str, busy: Callable[[str], BaseException]) -> int:
    """Take an exclusive ``flock`` on ``folder/lock_name`` (both made if missing), write
    this process into it (``pid N on HOST, since DATE``) and return the open descriptor.

    The lock lasts while a process holds the descriptor (a child it was passed to
    included), and the system releases it however the process ends, a kill included, so
    it is never left stuck. If another process holds it, raises ``busy(holder)``, holder
    being what that process wrote; an ``OSError`` making the folder or file passes on.
    """
    os.makedirs(folder, exist_ok=True)
    fd = os.open(osp.join(folder, lock_name), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors='replace').strip() or 'a process'
        os.close(fd)
        raise busy(holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'pid {os.getpid()} on {socket.gethostname()}, since '
                  f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode(), 0)
    return fd
