"""An advisory lock on a run directory, held for the life of a training run.

``fcntl.flock`` on ``RUN_DIR/.lock``: the kernel drops it when the process ends, however it ends
(a killed run leaves no stale lock). The file records who holds it, for the second run's error.
The standard library's lock is used directly: the ``filelock`` package adds nothing needed here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from tagger.atomic import OutputError
from tagger.errors import TaggerError

LOCK = ".lock"


class RunInUse(TaggerError):
    """Another process is training into the same run directory."""


@contextlib.contextmanager
def hold(run_dir: str | Path) -> Iterator[None]:
    """Create ``run_dir`` if needed and lock it until the block ends; raise :class:`RunInUse`
    (naming the directory and the holder) when another process holds the lock."""
    import fcntl

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputError(f"{run_dir}: is a file, expected a run directory")
    path = run_dir / LOCK
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputError(f"{run_dir}: cannot write: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise RunInUse(
                f"{run_dir} is in use by another training run ({holder}); wait for it to "
                "end or choose another --output"
            ) from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
