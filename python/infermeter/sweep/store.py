"""A sweep's results: one JSON object per line, each written whole by one
append and flushed to disk before the next point starts. A crash can leave
at most a torn last line, which reading ignores and resuming cuts off.

`read_results` is the one reader of results that report, compare,
recommend, merge and `load_results` use: every record it gives is a valid
sweep record, and every file or line that is not one is a `BadRecord` (a
ValueError naming the file and line), or, with skip_bad, left out and
listed."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from infermeter.sweep.folder_lock import writer_of

RESULTS_NAME = "results.jsonl"
RECORD_SCHEMA = "infermeter.sweep-record/1"
# Final outcomes; a `failed` point runs again on --resume.
DONE_STATUSES = ("ok", "oom", "skipped")
STATUSES = (*DONE_STATUSES, "failed")


# Where a sweep whose `repeat` runs as rounds keeps them (sweep/rounds.py): DIR/rounds/1 ... DIR/rounds/K.
ROUNDS_FOLDER = "rounds"


def results_path(path: str | Path) -> Path:
    """A results file (one that exists, or a new .jsonl), or the folder of a
    sweep that holds one: any other path, so that a sweep named `v1.5`
    writes into a folder of that name."""
    path = Path(path)
    return path if path.is_file() or (not path.is_dir() and path.suffix == ".jsonl") else path / RESULTS_NAME


class ResultsFile:
    def __init__(self, path: str | Path):
        self.path = results_path(path)

    def _lines(self, skip_bad: bool = False) -> tuple[list[tuple[int, dict]], int, list[BadRecord]]:
        """The records with their line numbers, the byte length of the file up
        to the last whole one, and (with skip_bad) the lines left out. Only
        the last line may be torn (the point in flight when a sweep stopped);
        damage anywhere else is an error, so nothing after it is lost."""
        if not self.path.exists():
            return [], 0, []
        data = self.path.read_bytes()
        lines = data.splitlines(keepends=True)
        records, good, skipped = [], 0, []
        for number, raw in enumerate(lines, 1):
            if not raw.strip():  # a blank line (an editor's final newline) holds nothing to lose
                good += len(raw)
                continue
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):  # JSON nested thousands deep is no record either
                record = None
            # A record is appended with its newline, so only a last line without one can be torn;
            # a whole record that lacks only its newline is kept (cut_torn_tail adds one).
            torn = number == len(lines) and not raw.endswith(b"\n") and not (
                isinstance(record, dict) and record.get("schema") == RECORD_SCHEMA)
            if torn:
                warnings.warn(f"{self.path}: ignoring {len(raw)} bytes after the last whole record "
                              "(a point was being written when the sweep stopped)", stacklevel=3)
                break
            good += len(raw)
            if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA:
                bad = BadRecord(self.path, number, f"not an infermeter sweep record (schema {RECORD_SCHEMA}); "
                                "the file is damaged or is not a sweep's results")
                if not skip_bad:
                    raise bad
                skipped.append(bad)
                continue
            records.append((number, record))
        return records, good, skipped

    def records(self) -> list[dict]:
        return [r for _, r in self._lines()[0]]

    def latest(self) -> dict[str, dict]:
        """The newest record of each point, by key."""
        return {r["key"]: r for r in self.records()}

    def checked(self, skip_bad: bool = False) -> tuple[list[Located], list[BadRecord]]:
        """The newest valid record of each point, with its line, and the bad
        lines left out (with skip_bad; without, the first is raised)."""
        numbered, _, skipped = self._lines(skip_bad)
        newest: dict[str, Located] = {}
        for number, record in numbered:
            problem = record_problem(record)
            if problem is None:
                newest[record["key"]] = Located(self.path, number, record)
                continue
            bad = BadRecord(self.path, number, f"not a valid sweep record: {problem}")
            if not skip_bad:
                raise bad
            skipped.append(bad)
        return list(newest.values()), skipped

    def cut_torn_tail(self) -> None:
        """Cuts off a torn last line, and ends a whole last record that lacks
        only its newline with one, so that the next record starts a line."""
        _, good, _ = self._lines()  # damage before the last line is an error: nothing after it is cut off
        if not self.path.exists():
            return
        if self.path.stat().st_size != good:
            os.truncate(self.path, good)
        if good:
            with open(self.path, "rb+") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
                    f.flush()
                    os.fsync(f.fileno())

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


class BadRecord(ValueError):
    """A results file, or one line of it, that is not a valid sweep result:
    one line naming the file (and the line), never a traceback."""

    def __init__(self, path: str | Path, line: int | None, problem: str, message: str | None = None):
        self.path, self.line = Path(path), line
        self.problem = " ".join(str(problem).split())  # one line, whatever the cause's text
        super().__init__(message or f"{self.path}" + (f", line {line}" if line else "") + f": {self.problem}")


class SkippedRecords(UserWarning):
    """Bad records or files that a reader left out (skip_bad); the message
    says how many and where."""


class StillBeingWritten(UserWarning):
    """A results folder read while a sweep (or a merge) still writes it: the
    records read are the points finished so far."""


@dataclass(frozen=True)
class Located:
    """A record and where it was read: its file and line."""

    path: Path
    line: int
    record: dict


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


# What a sweep record holds, by key: (the types it may have, what they are called).
_TEXT = ((str,), "text")
_OBJECT, _MAYBE_OBJECT = ((dict,), "an object"), ((dict, type(None)), "an object or null")
_MAYBE_TEXT = ((str, type(None)), "text or null")
_RECORD_KEYS = {"key": _TEXT, "series": _TEXT, "status": _TEXT, "error": _MAYBE_TEXT, "point": _OBJECT,
                "sweep": _OBJECT, "result": _MAYBE_OBJECT}
# Values no run produces (a batch of -5, a throughput of NaN) would be ranked and printed as figures.
_COUNT = ((int,), "a whole number from 1 up to 2^31", lambda v: 1 <= v < 2**31)
_RATE = ((int, float), "a finite number, 0 or more", lambda v: v >= 0 and (v < 2**1023 if isinstance(v, int)
                                                                             else math.isfinite(v)))
_POINT_KEYS = {"model": _TEXT, "variant": _OBJECT, "precision": _TEXT, "batch_size": _COUNT, "threads": _COUNT}
_RESULT_KEYS = {"measurement": _OBJECT, "config": _OBJECT, "latency": _OBJECT, "model": _OBJECT,
                "environment": _OBJECT}


def _kind_problem(doc: dict, keys: dict, where: str) -> str | None:
    """The first key of `keys` that `doc` lacks or holds with another type."""
    for key, (types, called, *check) in keys.items():
        name = f"{where}{key}"
        if key not in doc:
            return f"'{name}' is missing"
        value = doc[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"'{name}' is {_type_name(value)}, expected {called}"
        if check and not check[0](value):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            return f"'{name}' is {shown}, expected {called}"
    return None


def result_problem(doc, where: str = "") -> str | None:
    """Why `doc` is not an engine result document, or None: its schema and
    the parts every reader of it takes (a reader still guards the rest).
    `where`: its place in a record ("result"), for the message."""
    from infermeter.result import SCHEMA

    prefix = f"{where}." if where else ""
    if not isinstance(doc, dict):
        return f"'{where or 'the document'}' is {_type_name(doc)}, expected a result object"
    if doc.get("schema") != SCHEMA:
        return (f"'{where}'" if where else "the document") + \
            f" has schema {doc.get('schema')!r}, not an infermeter result's ({SCHEMA!r})"
    problem = _kind_problem(doc, _RESULT_KEYS, prefix) or \
        _kind_problem(doc["measurement"], {"inferences_per_s": _RATE}, f"{prefix}measurement.")
    if problem:
        return problem
    if "host" not in doc["latency"]:
        return f"'{prefix}latency.host' is missing"
    return _views_problem(doc, where)


# What reading a damaged document can raise: its reader names the record instead.
DAMAGE = (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError)


def damage_text(error: Exception) -> str:
    """A one-line account of what reading a damaged document raised."""
    if isinstance(error, KeyError) and error.args:
        return f"'{error.args[0]}' is missing"
    return " ".join(f"{type(error).__name__}: {error}".split())


def _views_problem(doc: dict, where: str) -> str | None:
    """Whether the views every reader takes of a result (latencies and their
    histograms, load, batcher, memory, energy, repeats) can be read."""
    from infermeter.result import Result

    result = Result(doc)
    try:
        for view in ("latency", "judged_latency", "launch_latency", "judged_histogram", "load_info", "batching",
                     "memory", "energy", "repeats", "runner", "outcome"):
            getattr(result, view)
    except Exception as e:  # noqa: BLE001 - the histogram decoder's own errors (hdrh.codec) derive from Exception
        return f"{where or 'the document'} cannot be read ({view}): {damage_text(e)}"
    return None


def record_problem(record: dict) -> str | None:
    """Why `record` (a JSON object of the record schema) is not a valid
    sweep record, or None."""
    problem = _kind_problem(record, _RECORD_KEYS, "") or _kind_problem(record["point"], _POINT_KEYS, "point.") or \
        _kind_problem(record["sweep"], {"name": _TEXT, "settings": _OBJECT}, "sweep.") or \
        _kind_problem(record["sweep"]["settings"], {"device": _TEXT}, "sweep.settings.")
    if problem:
        return problem
    if not isinstance(record.get("instance"), (str, type(None))):
        return f"'instance' is {_type_name(record['instance'])}, expected text or null"
    if record["status"] not in STATUSES:
        return f"status {record['status']!r} is none of {', '.join(STATUSES)}"
    if record["status"] == "ok":
        return result_problem(record["result"], "result") if record["result"] is not None else \
            "status ok without a result"
    return None


@dataclass
class ReadResults:
    """What `read_results` read: the newest valid record of each point of
    each file, in the order given, and what it left out."""

    records: list[Located] = field(default_factory=list)
    skipped: list[BadRecord] = field(default_factory=list)


def skipped_note(skipped: list[BadRecord]) -> str:
    """How many bad records or files were left out, and where: "skipped 3
    bad records: a/results.jsonl lines 2, 7 (...); b/results.jsonl: empty"."""
    by_file: dict[Path, list[BadRecord]] = {}
    for bad in skipped:
        by_file.setdefault(bad.path, []).append(bad)
    parts = []
    for path, bads in by_file.items():
        lines = [str(b.line) for b in bads if b.line]
        whole = [b.problem for b in bads if not b.line]
        parts.append(f"{path}" + (f" line{'s' if len(lines) > 1 else ''} {', '.join(lines)} "
                                  f"(first: {next(b.problem for b in bads if b.line)})" if lines else "")
                     + (f": {whole[0]}" if whole else ""))
    plural = "s" if len(skipped) != 1 else ""
    return f"skipped {len(skipped)} bad record{plural} or file{plural}: " + "; ".join(parts)


def _single_document(path: Path):
    """A .json file's document when the whole file is one JSON value (a
    run's result), else None (JSON lines under another name)."""
    try:
        return json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        return None


def _read_one(given, skip_bad: bool) -> tuple[list[Located], list[BadRecord]]:
    path = results_path(given)
    if not path.is_file():
        looked = "" if str(path) == str(given) else f" (looked for {path})"
        what = "a folder without a results file" if Path(given).is_dir() else "nothing there"
        if (path.parent / ROUNDS_FOLDER).is_dir():
            what += (f" yet: its sweep runs as rounds and writes it when the last round ends; the rounds so far are "
                     f"results folders in {path.parent / ROUNDS_FOLDER}")
        return [], [BadRecord(Path(given), None, f"no sweep results: {what}{looked}",
                              f"no sweep results at {given}: {what}{looked}")]
    if path.suffix == ".json":
        doc = _single_document(path)
        if isinstance(doc, dict) and doc.get("schema") != RECORD_SCHEMA:
            if result_problem(doc) is None:
                problem = ("one run's result (infermeter run --json), not a sweep's results: give a sweep folder "
                           "or results.jsonl (infermeter dashboard and predict read result files)")
            else:
                problem = f"not an infermeter result or sweep results: schema {doc.get('schema')!r}"
            return [], [BadRecord(path, None, problem)]
    if path.stat().st_size == 0:
        return [], [BadRecord(path, None, "empty results file: no point was recorded")]
    try:
        located, skipped = ResultsFile(path).checked(skip_bad)
    except OSError as e:
        return [], [BadRecord(path, None, f"cannot read: {e.strerror or e}")]
    if not located and not skipped:
        skipped = [BadRecord(path, None, "no whole record in the results file")]
    return located, skipped


def read_results(paths: Iterable[str | Path], *, skip_bad: bool = False) -> ReadResults:
    """The records of results files or sweep folders: the newest valid record
    of each point of each, with its file and line. Anything that is not one
    (no results file, an empty one, a line that is not a valid sweep record,
    a run's result .json or other JSON) raises BadRecord naming the file and
    line; with skip_bad it is left out and listed in `skipped` instead
    (`skipped_note` says how many and where). A torn last line, the point in
    flight when a sweep stopped, is ignored with a warning either way."""
    read = ReadResults()
    for given in paths:
        holder = writer_of(results_path(given).parent)
        if holder:
            warnings.warn(f"{results_path(given).parent} is still being written (process {holder}): what is read "
                          "is the points finished so far", StillBeingWritten, stacklevel=2)
        located, skipped = _read_one(given, skip_bad)
        if skipped and not skip_bad:
            raise skipped[0]
        read.records += located
        read.skipped += skipped
    return read


def warn_skipped(skipped: list[BadRecord]) -> None:
    if skipped:
        warnings.warn(skipped_note(skipped), SkippedRecords, stacklevel=3)


# What a reader says of its input, which the command line prints every time (warning_lines.py).
READER_NOTES = (SkippedRecords, StillBeingWritten)
