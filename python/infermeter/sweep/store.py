"""A sweep's results: one JSON object per line, each written whole by one
append and flushed to disk before the next point starts. A crash can leave
at most a torn last line, which reading ignores and resuming cuts off."""

from __future__ import annotations

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
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):  # os.write may write part of a large buffer
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
