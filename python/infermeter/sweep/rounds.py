"""A sweep's `repeat` run as rounds (docs/intervals.md): the grid runs
`repeat` times over, one run of every point a round, so that a point's runs
lie a round apart and the drift between them is in its interval (runs back
to back leave it out). Each round is an ordinary results folder of single
runs; when the last ends, each point's runs become one repeated result in
the sweep's own results file. `merge --rounds` combines separate sweeps the
same way (combined_rounds)."""

from __future__ import annotations

import json
from pathlib import Path

from infermeter import _native
from infermeter.find_rate import median_search_index, repeated_search_doc
from infermeter.sweep.config import SweepConfig
from infermeter.sweep.grid import Point
from infermeter.sweep.store import ROUNDS_FOLDER, ResultsFile
# How a combined point's runs (or a find-rate point's searches) were kept apart ("{n}": how many).
ROUNDS_ISOLATION = "{n} rounds of one sweep, interleaved; each run a fresh process"
SEARCH_ROUNDS_ISOLATION = "{n} rounds of one sweep, interleaved; each search in the sweep's process"


def passes(config: SweepConfig, results: Path) -> list[tuple[SweepConfig, Path]]:
    """The passes over the grid and the results each writes: the sweep itself
    into `results`, or, when its `repeat` runs as rounds, one pass of single
    runs (`repeat` 1) per round, each into a folder of its own."""
    repeat = config.given_options().get("repeat", 1)
    if repeat < 2 or config.repeat_spacing != "rounds":
        return [(config, results)]
    single = config.model_copy(update={"repeat": 1})
    return [(single, results.parent / ROUNDS_FOLDER / str(i + 1)) for i in range(repeat)]


def check_spacing(results: Path, rounds: bool, resume: bool) -> None:
    """Refuses to mix a rounds sweep with one whose repeats run back to back
    (or that has none) in one folder: the rounds' combined file would replace
    the other's results, or the other would leave the rounds aside."""
    kept = results.parent / ROUNDS_FOLDER
    if rounds and results.is_file() and not kept.is_dir():
        raise ValueError(f"{results} holds a sweep measured without rounds: to resume it, give the config "
                         "`repeat_spacing: back-to-back` (and its earlier repeat); or run this config in a new "
                         "folder (-o)")
    if not rounds and kept.is_dir():
        raise ValueError(f"{results.parent} holds a sweep whose repeat runs as rounds ({kept}): to resume it, give "
                         "the config its earlier repeat, with `repeat_spacing: rounds`; or run this config in a new "
                         "folder (-o)")
    if rounds and not resume and results.is_file():
        raise ValueError(f"{results} already holds results: pass --resume to continue that sweep, or choose "
                         "another output folder")


def combined_rounds(records: list[dict], isolation: str, search_isolation: str | None = None) -> dict:
    """One point's records from several rounds (times the same sweep ran):
    its measured results as one repeated result whose intervals are across
    the rounds, `isolation` saying how they were apart ("{n}": how many). A
    rate search's rounds become one repeated search (`search_isolation`, else
    `isolation`): the median search's best step, with every round's answer
    and their spread. The record spans the rounds (started_at of the first,
    finished_at of the last). A point measured in fewer than two rounds keeps
    its one record; one measured in none, its out-of-memory record if a round
    ran out (the later rounds skip it), else the newest."""
    measured = [r for r in records if r["status"] == "ok" and r["result"]]
    if len(measured) < 2:
        return (measured or [r for r in records if r["status"] == "oom"] or records[::-1])[0]
    span = {"started_at": min(r.get("started_at", float("inf")) for r in measured),
            "finished_at": max(r.get("finished_at", 0.0) for r in measured)}
    if any(r["result"].get("rate_search") for r in measured):
        searches = [r["result"]["rate_search"] for r in measured]
        median = measured[median_search_index(searches)]
        search = repeated_search_doc(searches, (search_isolation or isolation).format(n=len(measured)))
        return median | span | {"result": median["result"] | {"rate_search": search}}
    runs = [json.dumps(r["result"]) for r in measured]
    combined = json.loads(_native.combine_repeats(runs, isolation.format(n=len(measured))))
    return measured[0] | span | {"result": combined}


def write_combined(config: SweepConfig, rounds: list[ResultsFile], points: list[Point], results: Path) -> None:
    """The sweep's results file, written whole from its rounds, in grid
    order: each point's runs combined (combined_rounds), with the sweep's own
    settings (each round's say `repeat` 1)."""
    by_key: dict[str, list[dict]] = {}
    for store in rounds:
        for key, record in store.latest().items():  # a point that failed and ran again on resume: its newest
            by_key.setdefault(key, []).append(record)
    settings = {"name": config.name, "settings": config.model_dump(exclude={"models"})}
    combined = [combined_rounds(by_key[p.key], ROUNDS_ISOLATION, SEARCH_ROUNDS_ISOLATION) | {"sweep": settings}
                for p in points if p.key in by_key]
    _native.write_file_atomically(str(results), "".join(json.dumps(r, separators=(",", ":")) + "\n"
                                                        for r in combined))
