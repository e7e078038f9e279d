"""Results in the formats CI benchmark dashboards read: Google Benchmark's
JSON (github-action-benchmark's `googlecpp` tool, Bencher's `cpp_google`
adapter), github-action-benchmark's `customSmallerIsBetter` and
`customBiggerIsBetter` lists, and Bencher's Metric Format (BMF).

Each converter takes (name, Result) pairs: `result_name` names a run by its
configuration; `named_results` reads result files (named so) and sweeps
(each ok point named by its key). Every format states the same headline
latency: the median per request of the judged latency (response time in an
open loop, else host latency). The median rather than the mean, because a
repeated result keeps each run's percentiles but not its mean, so only the
median is there for every run (and one stalled request moves it least)."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from infermeter.options import DYNAMIC_BATCHING
from infermeter.result import Result
from infermeter.sweep.grid import format_rate
from infermeter.sweep.store import read_results, results_path

NamedResults = list[tuple[str, Result]]
PERCENTILES = ("p50", "p90", "p95", "p99")
# Google Benchmark's unit for every benchmark. One fixed unit: a dashboard
# that compares raw values across commits (github-action-benchmark before its
# unit normalisation) would see a 1000x step where a latency crossed from µs
# to ms.
TIME_UNIT = "us"
NS_PER_TIME_UNIT = 1e3
# Environment facts the Google Benchmark context carries beside its own keys.
CONTEXT_FACTS = ("device", "device_name", "cpu_model", "driver_version", "torch_version", "python_version")
# Google Benchmark's aggregates of repetitions, as its statistics compute them (sample stddev).
AGGREGATES = {"mean": statistics.fmean, "median": statistics.median, "stddev": statistics.stdev,
              "cv": lambda values: statistics.stdev(values) / statistics.fmean(values)}
MIB = 2**20


def result_name(result: Result) -> str:
    """A run's configuration as a benchmark name, shaped as a sweep point's
    key: `model file|runner|device|t<threads>[|max_batch=..|max_queue_delay=..]
    |b<batch>[|dynamic-batching][|r<rate>]`."""
    c = result.config
    series = f"{Path(result.model['path']).name}|{result.runner}|{c['device']}|t{c['threads']}"
    load = ""
    if c["load"] == DYNAMIC_BATCHING:
        series += f"|max_batch={c['max_batch']}|max_queue_delay={format_rate(c['max_queue_delay_s'])}"
        load = f"|{DYNAMIC_BATCHING}"
    if c["load"] != "closed":
        load += f"|r{format_rate(c['rate_per_s'])}"
    return f"{series}|b{c['batch_size']}{load}"


def named_results(paths) -> NamedResults:
    """(name, Result) for each result .json file, named by `result_name`, and
    for each ok point with a measured request of each sweep folder or
    results.jsonl, named by its key; in the order given."""
    named = []
    for given in paths:
        path = results_path(given)
        if not path.is_file():
            raise ValueError(f"no results at {given}")
        if path.suffix == ".jsonl":
            records = [found.record for found in read_results([path]).records]
            points = [(r["key"], Result(r["result"])) for r in records if r["status"] == "ok"]
            named += [(key, result) for key, result in points if result.outcome == "ok"]
        else:
            result = Result.load(path)
            named.append((result_name(result), result))
    if not named:
        raise ValueError(f"no measured result in {', '.join(map(str, paths))} (sweeps give their ok points only)")
    return named


@dataclass(frozen=True)
class Run:
    """One measurement of a result: the result itself, or one of its repeats."""

    requests: int
    inferences_per_s: float
    percentiles_ns: dict[str, float]  # the percentiles its samples state
    reported: bool  # the run the document is, whose memory and energy it states


@dataclass(frozen=True)
class Figures:
    """What the dashboards show of one result, read off its document once."""

    name: str
    result: Result
    percentiles_ns: dict[str, float]  # judged latency, the percentiles its samples state
    intervals_ns: dict[str, tuple[float, float]]  # their 95% intervals, where stated
    throughput_interval: tuple[float, float] | None  # inferences/s, 95%
    memory_bytes: dict[str, int]  # "host_peak_rss", "device_peak_memory", where measured
    joules: dict[str, float]  # "gpu_joules_per_inference", "cpu_joules_per_inference", where measured

    @property
    def runs(self) -> list[Run]:
        """Its runs: one, or each repeat with a stated median (the others have no time to report)."""
        r = self.result
        if r.repeats is None:
            return [Run(r.requests, r.inferences_per_s, self.percentiles_ns, True)]
        return [Run(run["requests"], run["inferences_per_s"], _stated(run), i == r.repeats["reported_run"])
                for i, run in enumerate(r.repeats["runs"]) if run.get("p50_ns") is not None]


def _stated(doc: dict) -> dict[str, float]:
    return {p: doc[f"{p}_ns"] for p in PERCENTILES if doc.get(f"{p}_ns") is not None}


def _figures(name: str, result: Result) -> Figures:
    doc = result.to_dict()
    latency = doc["latency"][result.judged]
    if result.outcome != "ok" or latency is None:
        raise ValueError(f"{name}: no request was measured ({doc['measurement'].get('no_samples_cause')})")
    stated = _stated(latency)
    if "p50" not in stated:
        raise ValueError(f"{name}: {latency['count']} request(s) cannot state a median latency: measure longer")
    interval = doc["measurement"].get("throughput_ci") or {}
    memory, energy = result.memory, result.energy
    peaks = {"host_peak_rss": memory.host_peak_rss, "device_peak_memory": memory.device_peak} if memory else {}
    readings = {"gpu": energy.gpu, "cpu": energy.cpu} if energy else {}
    intervals = latency.get("intervals") or {}
    return Figures(name=name, result=result, percentiles_ns=stated,
                   intervals_ns={key.removesuffix("_ns"): tuple(bounds) for key, bounds in intervals.items() if bounds},
                   throughput_interval=(interval["lo_inferences_per_s"], interval["hi_inferences_per_s"])
                   if "lo_inferences_per_s" in interval else None,
                   memory_bytes={key: value for key, value in peaks.items() if value is not None},
                   joules={f"{key}_joules_per_inference": reading.joules_per_inference
                           for key, reading in readings.items() if reading is not None})


def _all_figures(named: NamedResults) -> list[Figures]:
    if not named:
        raise ValueError("no results to convert")
    names = [name for name, _ in named]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        # Every dashboard keys its series by name: a second result would overwrite or interleave the first.
        raise ValueError(f"more than one result named {', '.join(repeated)}: a dashboard needs one per name "
                         "(convert results of one device or instance at a time)")
    return [_figures(name, result) for name, result in named]


# Google Benchmark JSON ---------------------------------------------------------------------------------------------

def to_google_benchmark(named: NamedResults) -> dict:
    """Google Benchmark's JSON output. Per result: an iteration per run
    (iterations = requests; real_time = the median latency, in µs; cpu_time
    the same), with counters items_per_second (inferences/s), p50_us ...
    p99_us, and on the run the document is, memory peaks (bytes) and
    joules per inference; a repeated result adds the mean, median, stddev
    and cv aggregates over its runs, as --benchmark_repetitions does."""
    figures = _all_figures(named)
    return {"context": _context([f.result for f in figures]),
            "benchmarks": [entry for family, f in enumerate(figures) for entry in _benchmark_entries(family, f)]}


def _context(results: list[Result]) -> dict:
    envs = [r.environment for r in results]
    stamps = [e["timestamp"] for e in envs if e.get("timestamp")]
    return {"date": min(stamps) if stamps else datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host_name": _shared(envs, "hostname"), "executable": "infermeter",
            # The most CPUs of the hosts: one host in the usual case of one machine's results.
            "num_cpus": max(e.get("cpu_count") or 0 for e in envs), "mhz_per_cpu": 0,
            "cpu_scaling_enabled": False, "caches": [], "load_avg": [], "library_build_type": "release",
            "json_schema_version": 1,
            **{key: value for key in CONTEXT_FACTS if (value := _shared(envs, key))}}


def _shared(envs: list[dict], key: str) -> str:
    """A fact of the results' environments: their distinct values, in order."""
    return ", ".join(dict.fromkeys(str(e[key]) for e in envs if e.get(key) is not None))


def _benchmark_entries(family: int, f: Figures) -> list[dict]:
    """Its runs' iterations and, for several runs, their aggregates, computed
    as Google Benchmark computes them: over the values the iterations report."""
    runs = f.runs
    times = [run.percentiles_ns["p50"] / NS_PER_TIME_UNIT for run in runs]
    counters = [_counters(f, run) for run in runs]
    common = {"family_index": family, "per_family_instance_index": 0, "run_name": f.name}
    threads = f.result.config["threads"]
    entries = [{"name": f.name, **common, "run_type": "iteration", "repetitions": len(runs),
                "repetition_index": index, "threads": threads, "iterations": run.requests, **_times(time), **counted}
               for index, (run, time, counted) in enumerate(zip(runs, times, counters))]
    if len(runs) > 1:
        every = [key for key in counters[0] if all(key in counted for counted in counters)]
        for aggregate, statistic in AGGREGATES.items():
            entries.append({"name": f"{f.name}_{aggregate}", **common, "run_type": "aggregate",
                            "repetitions": len(runs), "threads": threads, "aggregate_name": aggregate,
                            "aggregate_unit": "percentage" if aggregate == "cv" else "time",
                            "iterations": len(runs), **_times(statistic(times)),
                            **{key: statistic([counted[key] for counted in counters]) for key in every}})
    return entries


def _times(value: float) -> dict:
    # infermeter measures no CPU time per request; cpu_time repeats real_time, as readers require the field.
    return {"real_time": value, "cpu_time": value, "time_unit": TIME_UNIT}


def _counters(f: Figures, run: Run) -> dict:
    counters = {"items_per_second": run.inferences_per_s,
                **{f"{p}_{TIME_UNIT}": ns / NS_PER_TIME_UNIT for p, ns in run.percentiles_ns.items()}}
    if run.reported:
        counters |= {f"{key}_bytes": value for key, value in f.memory_bytes.items()} | f.joules
    return counters


# github-action-benchmark custom lists ------------------------------------------------------------------------------

def to_github_action_benchmark(named: NamedResults, bigger_is_better: bool) -> list[dict]:
    """github-action-benchmark's custom list ({name, unit, value, range,
    extra} each). Bigger is better (`customBiggerIsBetter`): throughput in
    inferences/s, range "± half its 95% interval". Smaller is better
    (`customSmallerIsBetter`): p50 and p99 latency in ms, range "[lo, hi]"
    their 95% interval (it is not symmetric), memory peaks in MiB and joules
    per inference. `extra` describes the configuration. A figure the run
    could not state (p99 of too few requests, energy without a counter) is
    left out."""
    entries = []
    for f in _all_figures(named):
        extra = _extra(f.result)
        metrics = [_throughput_entry(f)] if bigger_is_better else _smaller_is_better_entries(f)
        entries += [{"name": f"{f.name} - {metric}", **figure, "extra": extra} for metric, figure in metrics]
    return entries


def _throughput_entry(f: Figures) -> tuple[str, dict]:
    figure = {"unit": "inferences/s", "value": f.result.inferences_per_s}
    if f.throughput_interval:
        figure["range"] = f"± {_range_number((f.throughput_interval[1] - f.throughput_interval[0]) / 2)}"
    return "throughput", figure


def _range_number(value: float) -> str:
    """Six significant digits, never a lone digit: github-action-benchmark
    reads a "±" range's number with /\\d.+/ (extractRangeInfo), which "± 0"
    or "± 5" fails, and the range would be dropped. A window-count interval
    is 0 wide when every window counted the same."""
    text = f"{value:.6g}"
    return text if len(text) > 1 else f"{value:.1f}"


def _smaller_is_better_entries(f: Figures) -> list[tuple[str, dict]]:
    entries = []
    for p in ("p50", "p99"):
        if p in f.percentiles_ns:
            figure = {"unit": "ms", "value": f.percentiles_ns[p] / 1e6}
            if p in f.intervals_ns:
                figure["range"] = "[{:.6g}, {:.6g}]".format(*(bound / 1e6 for bound in f.intervals_ns[p]))
            entries.append((f"{p} latency", figure))
    entries += [(key.replace("_", " "), {"unit": "MiB", "value": value / MIB}) for key, value in f.memory_bytes.items()]
    entries += [(key.replace("_", " "), {"unit": "J", "value": value}) for key, value in f.joules.items()]
    return entries


def _extra(result: Result) -> str:
    """The configuration, one fact a line, as the dashboard's tooltip shows it."""
    c, env = result.config, result.environment
    lines = [f"model {Path(result.model['path']).name}, runner {result.runner}",
             f"device {c['device']}" + (f" ({env['device_name']})" if env.get("device_name") else ""),
             f"batch {c['batch_size']}, {c['threads']} thread(s), {_load_text(c)}",
             f"{result.requests} requests in {result.elapsed_s:.3g} s; latency: "
             + ("response time, from when each request was due" if result.judged == "response" else "host")]
    if result.repeats:
        lines.append(f"median-throughput run of {result.repeats['count']} "
                     f"(throughput CV {result.repeats['inferences_per_s']['cv']:.1%})")
    return "\n".join(lines)


def _load_text(config: dict) -> str:
    if config["load"] == "closed":
        return "closed loop"
    arrivals = f"{format_rate(config['rate_per_s'])} requests/s ({config['arrival']})"
    if config["load"] == DYNAMIC_BATCHING:
        return (f"dynamic batching, {arrivals}, max_batch {config['max_batch']}, "
                f"max_queue_delay {format_rate(config['max_queue_delay_s'])} s")
    return f"open loop, {arrivals}"


# Bencher Metric Format ---------------------------------------------------------------------------------------------

def to_bencher(named: NamedResults) -> dict:
    """Bencher Metric Format: per result, Bencher's built-in measures
    `throughput` (inferences/s) and `latency` (the median, in ns, the
    built-in measure's unit), and `p99-latency` (ns), `host-peak-rss`,
    `device-peak-memory` (bytes), `gpu-joules-per-inference` and
    `cpu-joules-per-inference` where measured; lower_value and upper_value
    are the 95% interval where the run states one."""
    return {f.name: _measures(f) for f in _all_figures(named)}


def _measures(f: Figures) -> dict:
    measures = {"throughput": _metric(f.result.inferences_per_s, f.throughput_interval),
                "latency": _metric(f.percentiles_ns["p50"], f.intervals_ns.get("p50"))}
    if "p99" in f.percentiles_ns:
        measures["p99-latency"] = _metric(f.percentiles_ns["p99"], f.intervals_ns.get("p99"))
    figures = f.memory_bytes | f.joules
    return measures | {key.replace("_", "-"): {"value": value} for key, value in figures.items()}


def _metric(value: float, interval: tuple[float, float] | None) -> dict:
    return {"value": value} | ({"lower_value": interval[0], "upper_value": interval[1]} if interval else {})


# The command line's formats ----------------------------------------------------------------------------------------

FORMATS = {"google-benchmark": to_google_benchmark,
           "github-action-benchmark-smaller": partial(to_github_action_benchmark, bigger_is_better=False),
           "github-action-benchmark-bigger": partial(to_github_action_benchmark, bigger_is_better=True),
           "bencher": to_bencher}


def render(format_name: str, named: NamedResults) -> str:
    """The file text of `format_name` (one of FORMATS). NaN and infinity are
    refused: the readers' JSON parsers (JavaScript's, serde's) reject them."""
    if format_name not in FORMATS:
        raise ValueError(f"unknown dashboard format {format_name!r} (known: {', '.join(FORMATS)})")
    return json.dumps(FORMATS[format_name](named), indent=2, allow_nan=False) + "\n"
