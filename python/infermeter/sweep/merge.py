"""Combines the results of a sweep's shards (or any folders of one sweep)
into one results file: a point found in two inputs is an error; points of
the grid found in none are reported."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from infermeter.sweep.config import SweepConfig
from infermeter.sweep.grid import expand
from infermeter.sweep.execute import SWEEP_FILE
from infermeter.sweep.store import ResultsFile, ResultsWriteError, results_path


@dataclass
class MergeOutcome:
    output: Path
    points: int
    grid: int | None
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.points} points written to {self.output}" +
                 (f" ({self.grid} in the grid)" if self.grid is not None else "")]
        if self.failed:
            lines.append(f"{len(self.failed)} failed (run their shard again with --resume): " + ", ".join(self.failed))
        if self.missing:
            lines.append(f"{len(self.missing)} missing: " + ", ".join(self.missing))
        return "\n".join(lines)


def _grid(folders: list[Path]) -> list[str] | None:
    """The grid's keys, from the sweep description each folder carries; None
    when no folder has one. Inputs of different sweeps are refused."""
    configs = []
    for folder in folders:
        described = folder / SWEEP_FILE
        if described.is_file():
            configs.append(json.loads(described.read_text())["config"])
    if not configs:
        return None
    if any(c != configs[0] for c in configs[1:]):
        raise ValueError("the inputs come from different sweep configs: merge results of one sweep at a time")
    return [p.key for p in expand(SweepConfig.model_validate(configs[0]))]


def merge(inputs: list[str | Path], output: str | Path) -> MergeOutcome:
    files = [results_path(i) for i in inputs]
    for given, path in zip(inputs, files):
        if not path.is_file():
            raise ValueError(f"no sweep results at {given}")
    seen: dict[str, Path] = {}
    records = []
    for path in files:
        for key, record in ResultsFile(path).latest().items():
            if key in seen:
                raise ValueError(f"point {key} is in both {seen[key]} and {path}: shards overlap; nothing written")
            seen[key] = path
            records.append(record)
    out = ResultsFile(output)
    if out.path.exists() and out.path.stat().st_size:
        raise ValueError(f"{out.path} already exists: choose another output")
    grid = _grid([p.parent for p in files])
    order = {key: i for i, key in enumerate(grid or [])}
    records.sort(key=lambda r: order.get(r["key"], len(order)))
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
                        failed=[r["key"] for r in records if r["status"] == "failed"])
