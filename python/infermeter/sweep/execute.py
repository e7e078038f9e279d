"""Runs a sweep's points one after another on this machine, appending each
record the moment it is done."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from infermeter.sweep.config import SweepConfig
from infermeter.sweep.folder_lock import writing
from infermeter.sweep.grid import Point, expand
from infermeter.sweep.shard import shard
from infermeter.sweep.point import measure_point, skipped_record
from infermeter.sweep.store import DONE_STATUSES, ResultsFile, results_path


@dataclass
class SweepOutcome:
    results: Path
    total: int
    resumed: int = 0  # points found done and not run again
    statuses: Counter = field(default_factory=Counter)
    interrupted: bool = False

    def __str__(self) -> str:
        ran = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items())) or "nothing"
        text = f"{self.total} points: {ran}" + (f", {self.resumed} already done" if self.resumed else "")
        return text + (" (interrupted: run again with --resume)" if self.interrupted else "") + f"\nresults: {self.results}"


class OutOfMemoryTracker:
    """Remembers the smallest batch size that ran out of memory in each series;
    that batch at other rates and larger batches of that series are not tried
    (memory does not depend on the arrival rate)."""

    def __init__(self):
        self.smallest: dict[str, int] = {}

    def note(self, record: dict) -> None:
        if record["status"] == "oom":
            batch = record["point"]["batch_size"]
            self.smallest[record["series"]] = min(batch, self.smallest.get(record["series"], batch))

    def skipped(self, config: SweepConfig, point: Point, instance: str | None) -> dict | None:
        """The record of `point` when a batch of its series no larger than its
        own ran out of memory, else None. The point that ran out is never asked
        about: it is done."""
        limit = self.smallest.get(point.series)
        if limit is None or point.batch_size < limit:
            return None
        return skipped_record(config, point, instance, limit)


def _label(record: dict) -> str:
    """The progress line's account of a finished point: what it was, with
    its load settings, and what it measured."""
    p = record["point"]
    point = Point.from_dict(p)
    load = point.load_label + (f" ({point.batcher_label})" if point.dynamic_batching else "")
    head = f"{Path(p['model']).name} b{p['batch_size']} t{p['threads']} {p['precision']}" + (
        "" if load == "closed" else f" {load}")
    if record["status"] != "ok":
        return f"{head}: {record['status']}"
    return f"{head}: {record['result']['measurement']['inferences_per_s']:.1f} inf/s{_timing_label(record)}"


def _timing_label(record: dict) -> str:
    """Where the point's time went: compiling (a cache hit shows the compile
    it saved) apart from measuring."""
    timing = record.get("timing") or {}
    parts = []
    if "compile_s" in timing:
        cached = timing["compile_cache"] == "hit"
        parts.append(f"compile {timing['compile_s']:.0f} s" + (" cached" if cached else ""))
    elif "export_s" in timing:
        parts.append(f"export {timing['export_s']:.1f} s")
    if "measure_s" in timing:
        parts.append(f"measure {timing['measure_s']:.1f} s")
    return f" ({', '.join(parts)})" if parts else ""


def prepare(config: SweepConfig, out_dir: str | Path, resume: bool, points: list[Point]
            ) -> tuple[ResultsFile, list[Point], OutOfMemoryTracker, int]:
    """The results file, the points still to run and what earlier runs of this
    sweep already learned about memory."""
    store = ResultsFile(out_dir)
    tracker = OutOfMemoryTracker()
    earlier = store.latest()
    if earlier and not resume:
        raise ValueError(f"{store.path} already holds {len(earlier)} results: pass --resume to continue that sweep, "
                         "or choose another output folder")
    store.cut_torn_tail()
    for record in earlier.values():
        tracker.note(record)
    done = {k for k, r in earlier.items() if r["status"] in DONE_STATUSES}
    todo = [p for p in points if p.key not in done]
    return store, todo, tracker, len(points) - len(todo)


SWEEP_FILE = "sweep.json"


def write_description(folder: Path, config: SweepConfig, shard_spec: tuple[int, int] | None) -> None:
    """The config a results folder was produced from, and its shard, for merge."""
    doc = {"config": config.model_dump(mode="json"), "shard": list(shard_spec) if shard_spec else None}
    (folder / SWEEP_FILE).write_text(json.dumps(doc, indent=2) + "\n")


def run_sweep(config: SweepConfig, out_dir: str | Path, *, instance: str | None = None, resume: bool = False,
              progress: bool = True, shard_spec: tuple[int, int] | None = None,
              executor: str = "local", ray_address: str | None = None,
              cpus_per_point: int | None = None) -> SweepOutcome:
    """Runs the points of `config` (or its shard `(index, count)`) not yet
    done. Local: one after another, in grid order. Ray: one task per point,
    the batch sizes of a series one after another. Ctrl-C stops after
    recording every finished point."""
    if executor not in ("local", "ray"):
        raise ValueError(f"executor must be 'local' or 'ray', got {executor!r}")
    instance = instance or config.instance
    if instance:
        from infermeter.cost import load_catalog

        load_catalog().price(instance)  # an unknown instance fails now, not in the report
    config.backend_config().check()  # a missing SDK fails before any point, not in every one
    points = expand(config)
    if shard_spec:
        points = shard(points, *shard_spec)
    with writing(results_path(out_dir).parent):
        return _run_points(config, out_dir, instance, resume, progress, shard_spec, executor, ray_address,
                           cpus_per_point, points)


def _run_points(config, out_dir, instance, resume, progress, shard_spec, executor, ray_address, cpus_per_point,
                points) -> SweepOutcome:
    """run_sweep's work, while it holds the results folder."""
    store, todo, tracker, resumed = prepare(config, out_dir, resume, points)
    outcome = SweepOutcome(store.path, resumed + len(todo), resumed)
    model_dir = store.path.parent / "models"
    model_dir.mkdir(parents=True, exist_ok=True)
    write_description(store.path.parent, config, shard_spec)
    # No bar at all without progress: even a disabled tqdm starts its monitor
    # thread, which outlives the sweep.
    bar = tqdm(total=outcome.total, initial=resumed, unit="point", desc=config.name, file=sys.stderr,
               dynamic_ncols=True) if progress else None

    def finished(record: dict) -> None:
        store.append(record)
        tracker.note(record)
        outcome.statuses[record["status"]] += 1
        if bar is not None:
            bar.set_postfix_str(_label(record), refresh=False)
            bar.update()

    try:
        if executor == "ray":
            from infermeter.sweep.ray_executor import run_on_ray

            run_on_ray(config, todo, tracker, model_dir, instance, finished, ray_address, cpus_per_point)
        else:
            for point in todo:
                finished(tracker.skipped(config, point, instance) or measure_point(config, point, model_dir, instance))
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    return outcome
