"""Combines the results of a sweep's shards (or any folders of one sweep)
into one results file: a point found in two inputs is an error; points of
the grid found in none are reported. With rounds, the inputs are the same
sweep run at different times, and each point's results become one repeated
result with across-run intervals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from infermeter.sweep.config import ConfigError, SweepConfig
from infermeter.sweep.grid import expand
from infermeter.sweep.rounds import combined_rounds
from infermeter.sweep.execute import read_description
from infermeter.sweep.folder_lock import writing
from infermeter.sweep.store import (BadRecord, ResultsFile, ResultsWriteError, read_results, results_path,
                                    skipped_note)


@dataclass
class MergeOutcome:
    output: Path
    points: int
    grid: int | None
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[BadRecord] = field(default_factory=list)  # bad records or inputs left out (skip_bad)

    def __str__(self) -> str:
        lines = [f"{self.points} points written to {self.output}" +
                 (f" ({self.grid} in the grid)" if self.grid is not None else "")]
        if self.skipped:
            lines.append(skipped_note(self.skipped))
        if self.failed:
            lines.append(f"{len(self.failed)} failed (run their shard again with --resume): " + ", ".join(self.failed))
        if self.missing:
            lines.append(f"{len(self.missing)} missing: " + ", ".join(self.missing))
        return "\n".join(lines)


def _grid(folders: list[Path]) -> list[str] | None:
    """The grid's keys, from the sweep description each folder carries; None
    when no folder has one. Inputs of different sweeps are refused."""
    described = [(path, doc["config"]) for path, doc in map(read_description, folders) if doc]
    if not described:
        return None
    path, config = described[0]
    if any(c != config for _, c in described[1:]):
        raise ValueError("the inputs come from different sweep configs: merge results of one sweep at a time")
    try:
        return [p.key for p in expand(SweepConfig.model_validate(config))]
    except ValueError as e:  # pydantic's ValidationError is one
        raise ConfigError(f"{path}: the sweep config it describes no longer validates: "
                          f"{' '.join(str(e).split())}") from None


def merge(inputs: list[str | Path], output: str | Path, *, skip_bad: bool = False,
          rounds: bool = False) -> MergeOutcome:
    """Writes the newest record of each point of `inputs` to `output`. A bad
    input or record (store.read_results) is an error naming its file and
    line; with skip_bad it is left out and the outcome lists it.

    `rounds`: the inputs are the same sweep run again at other times, not
    shards. A point's measured results from the rounds become one repeated
    result (the engine's combine_repeats), so its intervals are across runs
    spread over the rounds' span: drift between them is in the interval,
    which repeats run back to back leave out (docs/intervals.md); a rate
    search's rounds become one repeated search. An input given twice would
    count the same runs twice: it is refused."""
    if rounds:
        _refuse_repeated_inputs(inputs)
    read = read_results(inputs, skip_bad=skip_bad)
    seen: dict[str, Path] = {}
    records = []
    by_key: dict[str, list[dict]] = {}
    for located in read.records:
        key, path = located.record["key"], located.path
        if key in seen and not rounds:
            raise ValueError(f"point {key} is in both {seen[key]} and {path}: shards overlap; nothing written")
        seen.setdefault(key, path)
        by_key.setdefault(key, []).append(located.record)
    records = [combined_rounds(found, "{n} separate sweeps") if rounds else found[0]
               for found in by_key.values()]
    if not records:
        raise ValueError(f"no valid record in {', '.join(map(str, inputs))}: nothing written; "
                         + skipped_note(read.skipped))
    files = list(dict.fromkeys(located.path for located in read.records))
    out = ResultsFile(output)
    grid = _grid([p.parent for p in files])
    order = {key: i for i, key in enumerate(grid or [])}
    records.sort(key=lambda r: order.get(r["key"], len(order)))
    # One writer per folder: a sweep starting there would append to the merged file.
    with writing(out.path.parent):
        if out.path.exists() and out.path.stat().st_size:
            raise ValueError(f"{out.path} already exists: choose another output")
        try:
            for record in records:
                out.append(record)
        except ResultsWriteError:
            # A half-merged file would pass for a whole one (and block a retry as
            # "already exists"): nothing is written unless everything is.
            out.path.unlink(missing_ok=True)
            raise
    return MergeOutcome(out.path, len(records), len(grid) if grid is not None else None,
                        missing=[k for k in (grid or []) if k not in seen],
                        failed=[r["key"] for r in records if r["status"] == "failed"], skipped=read.skipped)


def _refuse_repeated_inputs(inputs) -> None:
    files = [results_path(i).resolve() for i in inputs]
    twice = next((f for i, f in enumerate(files) if f in files[:i]), None)
    if twice is not None:
        raise ValueError(f"{twice} is given twice: its runs would count as two rounds; nothing written")
