"""Runs a sweep's points one after another on this machine, appending each
record the moment it is done."""

from __future__ import annotations

import json
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel
from tqdm import tqdm

from infermeter import _native
from infermeter.sweep.config import AXES, ModelConfig, SweepConfig
from infermeter.sweep.folder_lock import writing
from infermeter.sweep.grid import Point, expand
from infermeter.sweep.shard import shard
from infermeter.sweep.point import measure_point, skipped_record
from infermeter.sweep.rounds import check_spacing, passes, write_combined
from infermeter.sweep.store import DONE_STATUSES, RESULTS_NAME, ROUNDS_FOLDER, ResultsFile, results_path


@dataclass
class SweepOutcome:
    results: Path
    total: int  # runs: the points, times the rounds
    resumed: int = 0  # runs found done and not made again
    statuses: Counter = field(default_factory=Counter)  # of the runs made this time
    interrupted: bool = False
    rounds: int = 1  # the grid's passes (a sweep's `repeat` spread as rounds)

    def __str__(self) -> str:
        ran = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items())) or "nothing"
        what = f"{self.total} points" if self.rounds == 1 else f"{self.rounds} rounds of {self.total // self.rounds} points"
        text = f"{what}: {ran}" + (f", {self.resumed} already done" if self.resumed else "")
        if self.interrupted:
            text += " (interrupted: run again with --resume)"
            kept = "" if self.rounds == 1 else f"\nthe rounds measured so far: {self.results.parent / ROUNDS_FOLDER}"
            return text + kept
        combined = "" if self.rounds == 1 else f" (each point's {self.rounds} rounds as one repeated result)"
        return text + f"\nresults: {self.results}{combined}"


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


class Prepared(NamedTuple):
    store: ResultsFile
    todo: list[Point]  # the points still to run
    done: int  # points found done
    changes: list[str]  # how the config differs from the one the earlier points were measured with


def prepare(config: SweepConfig, out_dir: str | Path, resume: bool, points: list[Point], tracker: OutOfMemoryTracker,
            accept_changed_config: bool = False) -> Prepared:
    """The results file of `out_dir`, the points still to run, and how the
    config differs from the one the earlier points were measured with
    (refused unless `accept_changed_config`); `tracker` learns what the
    earlier points found about memory."""
    store = ResultsFile(out_dir)
    # Every earlier record is checked: a damaged one is an error naming its line, before anything is written.
    earlier = {located.record["key"]: located.record for located in store.checked()[0]}
    if earlier and not resume:
        raise ValueError(f"{store.path} already holds {len(earlier)} results: pass --resume to continue that sweep, "
                         "or choose another output folder")
    recorded = {record.get("instance") for record in earlier.values()}
    changes = checked_changes(store.path.parent, config, accept_changed_config, recorded) if earlier else []
    store.cut_torn_tail()
    for record in earlier.values():
        tracker.note(record)
    done = {k for k, r in earlier.items() if r["status"] in DONE_STATUSES}
    todo = [p for p in points if p.key not in done]
    return Prepared(store, todo, len(points) - len(todo), changes)


def checked_changes(folder: Path, config: SweepConfig, accept_changed_config: bool,
                    recorded_instances: set | None = None) -> list[str]:
    """How `config` differs from the one the points in `folder` were measured
    with (config_changes_since); refused unless `accept_changed_config`.
    `recorded_instances`: the instances the earlier records name. A sweep.json
    written before --instance was kept in it has none; its points were priced
    on the instance their records name, so that one is no change."""
    changes = config_changes_since(folder, config)
    if "instance" in changes and recorded_instances == {config.instance}:
        _, doc = read_description(folder)
        if doc and doc["config"].get("instance") is None:
            changes.remove("instance")
    if changes and not accept_changed_config:
        raise ValueError(f"{folder} holds points measured with another config ({SWEEP_FILE}): "
                         f"{', '.join(changes)} changed, which changes what a point measures; run this config in a "
                         "new folder (-o), or pass --accept-changed-config to add its points to these results "
                         f"anyway ({SWEEP_FILE} keeps the earlier config in its history)")
    return changes


SWEEP_FILE = "sweep.json"
# Keys that name a sweep, or bound it, without changing what any of its points measures
# (repeat_spacing changes where a point's runs lie in time; rounds.check_spacing keeps the two apart).
LABEL_KEYS = ("name", "description", "max_points", "repeat_spacing")
# Keys whose values make points: a value added adds points and leaves those measured as they were.
AXIS_KEYS = (*AXES, "precisions", "seq_len", "resolution")


def read_description(folder: str | Path) -> tuple[Path, dict | None]:
    """The sweep.json of a results folder (None when it has none): the config
    the folder's points were measured with, under "config"."""
    path = Path(folder) / SWEEP_FILE
    if not path.is_file():
        return path, None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a sweep description ({' '.join(str(e).split())})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise ValueError(f"{path}: not a sweep description (no 'config' object)")
    return path, doc


def _default(model: type[BaseModel], key: str):
    """A key's default as written back whole (JSON), for a config written
    before the key existed; a key the model does not know has none."""
    info = model.model_fields.get(key)
    if info is None or info.is_required():
        return _NO_DEFAULT
    value = info.get_default(call_default_factory=True)
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


_NO_DEFAULT = object()


def _changed_keys(old: dict, new: dict, model: type[BaseModel], prefix: str) -> list[str]:
    """The keys of one mapping whose values differ; an axis that only gained values is no change."""
    changed = []
    for key in dict.fromkeys([*old, *new]):
        if key == "models" or (not prefix and key in LABEL_KEYS):
            continue
        a, b = old.get(key, _default(model, key)), new.get(key, _default(model, key))
        if a == b:
            continue
        if key in AXIS_KEYS and isinstance(a, list) and isinstance(b, list):
            lost = [v for v in a if v not in b]
            if lost:
                changed.append(f"{prefix}{key} (without {', '.join(map(str, lost))})")
        else:
            changed.append(f"{prefix}{key}")
    return sorted(changed)


def _whole(doc: dict) -> dict:
    """A config as the current version writes it back whole (keys added
    since at their defaults); as it is when it no longer validates."""
    try:
        return SweepConfig.model_validate(doc).model_dump(mode="json")
    except ValueError:  # pydantic's ValidationError is one
        return doc


def config_changes(old: dict, new: dict) -> list[str]:
    """What in config `new` (as written back whole) changes what a point of
    config `old` measures: any run option, backend or instance, a model's
    definition, a model gone, a value gone from an axis. Adding values to an
    axis (batch_sizes, threads, precisions, rates, ...) or models at the end
    adds points and changes none; the sweep's name and description label it."""
    old, new = _whole(old), _whole(new)
    changes = _changed_keys(old, new, SweepConfig, "")
    old_models, new_models = old.get("models") or [], new.get("models") or []
    for i, m in enumerate(old_models):
        if i >= len(new_models):
            changes.append(f"models[{i}] ({m.get('name') if isinstance(m, dict) else m}: gone)")
        elif isinstance(m, dict) and isinstance(new_models[i], dict):
            changes += _changed_keys(m, new_models[i], ModelConfig, f"models[{i}].")
        elif m != new_models[i]:
            changes.append(f"models[{i}]")
    return changes


def config_changes_since(folder: Path, config: SweepConfig) -> list[str]:
    """How `config` differs from the one the points in `folder` were measured
    with (its sweep.json; nothing to compare without one)."""
    _, doc = read_description(folder)
    return config_changes(doc["config"], config.model_dump(mode="json")) if doc else []


def write_description(folder: Path, config: SweepConfig, shard_spec: tuple[int, int] | None,
                      changes: list[str] | None = None) -> None:
    """The config a results folder is produced from, and its shard, for merge
    and --resume. A config it replaces (resumed with more points, or with
    --accept-changed-config) moves to "history", oldest first, with the time
    it was replaced and the keys accepted as changed (`changes`)."""
    try:
        path, earlier = read_description(folder)
    except ValueError:
        # Unreadable: checked against before any point of a resume; a new sweep replaces it.
        path, earlier = folder / SWEEP_FILE, None
    doc = {"config": config.model_dump(mode="json"), "shard": list(shard_spec) if shard_spec else None}
    history = list((earlier or {}).get("history") or [])
    if earlier and (earlier["config"] != doc["config"] or earlier.get("shard") != doc["shard"]):
        history.append({"config": earlier["config"], "shard": earlier.get("shard"),
                        "replaced_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "changed": list(changes or [])})
    if history:
        doc["history"] = history
    _native.write_file_atomically(str(path), json.dumps(doc, indent=2) + "\n")


def run_sweep(config: SweepConfig, out_dir: str | Path, *, instance: str | None = None, resume: bool = False,
              progress: bool = True, shard_spec: tuple[int, int] | None = None,
              executor: str = "local", ray_address: str | None = None,
              cpus_per_point: int | None = None, accept_changed_config: bool = False) -> SweepOutcome:
    """Runs the points of `config` (or its shard `(index, count)`) not yet
    done. Local: one after another, in grid order. Ray: one task per point,
    the batch sizes of a series one after another. Ctrl-C stops after
    recording every finished point. With `resume`, a config that changes what
    the points already measured measure (config_changes) is refused, unless
    `accept_changed_config`; sweep.json keeps the configs it replaces."""
    if executor not in ("local", "ray"):
        raise ValueError(f"executor must be 'local' or 'ray', got {executor!r}")
    if instance:
        # The instance prices every point, so it is part of the config that sweep.json
        # records and --resume compares, however it was given.
        config = config.model_copy(update={"instance": instance})
    instance = config.instance
    if instance:
        from infermeter.cost import load_catalog

        load_catalog().price(instance)  # an unknown instance fails now, not in the report
    config.backend_config().check()  # a missing SDK fails before any point, not in every one
    points = expand(config)
    if shard_spec:
        points = shard(points, *shard_spec)
    if results_path(out_dir).name != RESULTS_NAME:
        # The folder's sweep.json, models and lock belong to one results file.
        raise ValueError(f"{out_dir}: a sweep writes a results folder (its {RESULTS_NAME}, {SWEEP_FILE} and "
                         "exported models): give a folder")
    with writing(results_path(out_dir).parent):
        return _run_points(config, out_dir, instance, resume, progress, shard_spec, executor, ray_address,
                           cpus_per_point, points, accept_changed_config)


# A sweep whose points take longer than this to measure is announced with its estimate before it starts.
LONG_SWEEP_S = 3600


class LongSweep(UserWarning):
    """A sweep will measure for hours: its points and the least time they take."""


def warn_if_long(config: SweepConfig, points: int) -> None:
    seconds, estimate = config.time_estimate(points)
    if seconds >= LONG_SWEEP_S:
        warnings.warn(f"sweep {config.name!r} is about to measure {estimate}; exports and compiles come on top",
                      LongSweep, stacklevel=4)


def _run_points(config, out_dir, instance, resume, progress, shard_spec, executor, ray_address, cpus_per_point,
                points, accept_changed_config) -> SweepOutcome:
    """run_sweep's work, while it holds the results folder: each pass over
    the grid in turn (rounds.py: every point once a round), then, for
    rounds, each point's runs combined into the sweep's results."""
    results = results_path(out_dir)
    folder = results.parent
    grid_passes = passes(config, results)
    rounds = len(grid_passes) > 1
    check_spacing(results, rounds, resume)
    # Each round's folder describes its single runs (`repeat` 1): the sweep's own, with its repeat, is checked here.
    top_changes = checked_changes(folder, config, accept_changed_config) if rounds and resume else []
    tracker = OutOfMemoryTracker()  # memory does not change between rounds: one tracker for all
    prepared = [prepare(c, where, resume, points, tracker, accept_changed_config) for c, where in grid_passes]
    todo_runs = sum(len(p.todo) for p in prepared)
    resumed = sum(p.done for p in prepared)
    warn_if_long(config, -(-todo_runs // len(grid_passes)))  # in points, each `repeat` runs
    outcome = SweepOutcome(results, resumed + todo_runs, resumed, rounds=len(grid_passes))
    model_dir = folder / "models"
    model_dir.mkdir(parents=True, exist_ok=True)
    write_description(folder, config, shard_spec, top_changes if rounds else prepared[0].changes)
    # No bar at all without progress: even a disabled tqdm starts its monitor
    # thread, which outlives the sweep.
    bar = tqdm(total=outcome.total, initial=resumed, unit="run" if rounds else "point", desc=config.name,
               file=sys.stderr, dynamic_ncols=True) if progress else None
    try:
        for i, ((pass_config, _), (store, todo, _, changes)) in enumerate(zip(grid_passes, prepared)):
            if rounds:
                store.path.parent.mkdir(parents=True, exist_ok=True)
                write_description(store.path.parent, pass_config, shard_spec, changes)
            label = f"round {i + 1}/{len(grid_passes)} " if rounds else ""

            def finished(record: dict, store=store, label=label) -> None:
                store.append(record)
                tracker.note(record)
                outcome.statuses[record["status"]] += 1
                if bar is not None:
                    bar.set_postfix_str(label + _label(record), refresh=False)
                    bar.update()

            if executor == "ray":
                from infermeter.sweep.ray_executor import run_on_ray

                run_on_ray(pass_config, todo, tracker, model_dir, instance, finished, ray_address, cpus_per_point,
                           fresh=rounds)
            else:
                for point in todo:
                    finished(tracker.skipped(pass_config, point, instance)
                             or measure_point(pass_config, point, model_dir, instance, fresh=rounds))
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    if rounds and not outcome.interrupted:
        write_combined(config, [p.store for p in prepared], points, results)
    return outcome
