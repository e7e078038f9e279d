"""A sweep's results: one JSON object per line, each written whole by one
append and flushed to disk before the next point starts. A crash can leave
at most a torn last line, which reading ignores and resuming cuts off."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import warnings
from pathlib import Path

RESULTS_NAME = "results.jsonl"
RECORD_SCHEMA = "infermeter.sweep-record/1"
# Final outcomes; a `failed` point runs again on --resume.
DONE_STATUSES = ("ok", "oom", "skipped")


def results_path(path: str | Path) -> Path:
    """A results file, or the folder of a sweep that holds one."""
    path = Path(path)
    return path / RESULTS_NAME if path.is_dir() or not path.suffix else path


class ResultsFile:
    def __init__(self, path: str | Path):
        self.path = results_path(path)

    def _lines(self) -> tuple[list[dict], int]:
        """The records, and the byte length of the file up to the last whole
        one. Only the last line may be torn (the point in flight when a sweep
        stopped); damage anywhere else is an error, so nothing after it is lost."""
        if not self.path.exists():
            return [], 0
        data = self.path.read_bytes()
        lines = data.splitlines(keepends=True)
        records, good = [], 0
        for number, raw in enumerate(lines, 1):
            try:
                record = json.loads(raw) if raw.endswith(b"\n") else None
            except ValueError:
                record = None
            if record is None and number == len(lines):
                warnings.warn(f"{self.path}: ignoring {len(raw)} bytes after the last whole record "
                              "(a point was being written when the sweep stopped)", stacklevel=3)
                break
            if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA:
                raise ValueError(f"{self.path}, line {number}: not an infermeter sweep record "
                                 f"(schema {RECORD_SCHEMA}); the file is damaged or is not a sweep's results")
            records.append(record)
            good += len(raw)
        return records, good

    def records(self) -> list[dict]:
        return self._lines()[0]

    def latest(self) -> dict[str, dict]:
        """The newest record of each point, by key."""
        return {r["key"]: r for r in self.records()}

    def cut_torn_tail(self) -> None:
        records, good = self._lines()
        if self.path.exists() and self.path.stat().st_size != good:
            os.truncate(self.path, good)

    def append(self, record: dict) -> None:
        """Stores `record` whole or not at all. When the disk is full (or the
        file may grow no further) the bytes of this record that did land are
        cut off again and ResultsWriteError names the file: the records before
        it stay intact and the caller stops instead of measuring points it
        cannot keep."""
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise ResultsWriteError(self.path, record, e) from e
        try:
            start = os.fstat(fd).st_size
            try:
                written = 0
                while written < len(line):  # os.write may write part of a large buffer
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            except OSError as e:
                # Shrinking needs no space. Should it fail too, the torn tail is
                # still what reading ignores and --resume cuts off.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise ResultsWriteError(self.path, record, e) from e
        finally:
            os.close(fd)


class ResultsWriteError(OSError):
    """A record could not be stored; the file holds every record before it."""

    def __init__(self, path: Path, record: dict, cause: OSError):
        code = errno.errorcode.get(cause.errno, "") if cause.errno else ""
        super().__init__(f"cannot write the record of point {record.get('key')} to {path}: "
                         f"{cause.strerror or cause}" + (f" ({code})" if code else "") +
                         "; the records before it are intact: once there is room, run the sweep again with "
                         "--resume to measure the rest")
        self.errno = cause.errno
