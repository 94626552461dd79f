import os
import socket

import pytest

from cgh_mm.runtime.work_dir_lock import lock_folder


class BusyError(Exception):
    pass


def test_a_held_folder_is_refused_naming_its_holder_until_released(tmp_path):
    folder = str(tmp_path / 'run')
    fd = lock_folder(folder, '.lock', BusyError)  # the folder is made
    with open(tmp_path / 'run' / '.lock') as f:
        written = f.read()
    assert f'pid {os.getpid()} on {socket.gethostname()}' in written
    with pytest.raises(BusyError) as info:  # another open file of the lock: another holder
        lock_folder(folder, '.lock', BusyError)
    assert str(info.value) == written.strip()
    assert lock_folder(folder, 'other.lock', BusyError) >= 0  # another lock file is another lock
    os.close(fd)
    os.close(lock_folder(folder, '.lock', BusyError))  # released with its descriptor
