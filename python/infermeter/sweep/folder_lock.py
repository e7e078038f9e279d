"""One writer per results folder: a sweep (or a merge) holds an advisory
lock (flock) on the folder itself for its whole life, so a second writer is
refused instead of appending records measured while both ran (each halving
the other's throughput). The lock is on the folder, not on a file in it: a
lock file deleted while held would let the next writer lock a new one. The
kernel drops the lock when its holder exits, however it exits, so a lock left
by a killed sweep is simply taken. `<folder>/.infermeter.lock` names the
holder, for the refusal's message."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import stat
import time
from pathlib import Path

LOCK_FILE = ".infermeter.lock"


class FolderInUse(ValueError):
    """Another live process is writing this results folder."""


def _holder(folder: Path) -> str:
    """Who the lock file names; never through a link or from a pipe planted there."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return "unknown"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "unknown"
        return os.read(fd, 200).decode(errors="replace").strip() or "unknown"
    except OSError:
        return "unknown"
    finally:
        os.close(fd)


def _name_holder(folder: Path) -> None:
    """Writes this process into the lock file, never through a link or into
    anything but a regular file (a link planted there would have the write
    truncate whatever it points to)."""
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as e:
        raise ValueError(f"{path} cannot be written ({e.strerror}): it must be a regular file; remove it") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file: remove it")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode())
    finally:
        os.close(fd)


def _locked(fd: int) -> bool:
    """Takes the lock, waiting out a reader's momentary look (writer_of)
    but not another writer."""
    for attempt in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.02)
    return False


@contextlib.contextmanager
def writing(folder: Path):
    """Holds the folder's lock within the block; FolderInUse naming the holder otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not _locked(fd):
            raise FolderInUse(f"{folder} is being written by another sweep or merge (process {_holder(folder)}): "
                              "wait for it to finish, or choose another output folder") from None
        _name_holder(folder)
        try:
            yield
        finally:
            # Still holding the lock, so no writer can have named itself since: the name goes with it
            # (a merge into the current folder leaves nothing behind).
            with contextlib.suppress(OSError):
                (folder / LOCK_FILE).unlink()
    finally:
        os.close(fd)  # releases the lock


def writer_of(folder: Path) -> str | None:
    """The process writing `folder` now ("PID on HOST"), or None when no one is."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # held for an instant: a writer starting now waits it out
        return None
    except BlockingIOError:
        return _holder(folder)
    finally:
        os.close(fd)
