"""A stand-in for a full disk that is the kernel's own failure: a file-size
limit on this process, beyond which a write fails with EFBIG as one on a full
disk fails with ENOSPC. Used by the fault matrix (tests/test_faults.py)."""

from __future__ import annotations

import contextlib
import resource
import signal


@contextlib.contextmanager
def file_size_limit(size: int):
    """Files of this process may grow no further than `size` bytes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
