"""One writer per results folder: a sweep holds an advisory lock (flock) on
`<folder>/.infermeter.lock` for its whole life, so a second sweep on the same
folder is refused instead of appending records measured while both ran (each
halving the other's throughput). The kernel drops the lock when its holder
exits, however it exits, so a lock left by a killed sweep is simply taken."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

LOCK_FILE = ".infermeter.lock"


class FolderInUse(ValueError):
    """Another live process is writing this results folder."""


@contextlib.contextmanager
def writing(folder: Path):
    """Holds the folder's lock within the block; FolderInUse naming the holder otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise FolderInUse(f"{folder} is being written by another sweep (process {holder}): wait for it to "
                              "finish, or choose another output folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
