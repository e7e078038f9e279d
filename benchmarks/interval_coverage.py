"""Do infermeter's stated 95% intervals hold across runs? (docs/intervals.md)

For each configuration, `collect` makes K independent runs, each a fresh
process of `infermeter-bench` writing its result document, and times each
process. `analyse` then asks, for every run, whether its stated interval
(throughput, and the stop rule's percentile: host p99) covers the median of
the other runs, the across-run truth; and the same of the across-run interval
infermeter states with `--repeat R` (the engine's combine_repeats, applied to
R of the runs) against the median of the runs outside those R, for R runs spread over the collection's span
(every R-run subset when there are few, else a seeded random 2,000; they
share runs, so the share estimates the coverage of one such measurement, not
K independent trials of it) and for R consecutive runs, as `--repeat R`
makes them back to back.

    python benchmarks/interval_coverage.py --preset cpu --out results/coverage      # the CPU table
    python3 benchmarks/interval_coverage.py --preset gpu --out results/coverage-gpu  # BERT-base fp16 on a GPU
    python benchmarks/interval_coverage.py --analyse results/coverage

A preset exports its models first (random weights). Each configuration's
runs go to OUT/<configuration>/run-NN.json, with walls.json holding each
process's wall time, so an interrupted collection resumes where it stopped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import infermeter
from infermeter import _native
from infermeter.known_latency import spin_model

CONFIDENCE = 0.95
MAX_SUBSETS = 2000


@dataclass
class Configuration:
    name: str
    model: str  # file name under OUT/models
    args: list[str]  # infermeter-bench's flags, beyond the model, --json and --no-calibrate


def cpu_preset(models: Path) -> list[Configuration]:
    spin_model(models / "spin-500us.pt", 500_000)
    if not (models / "resnet18-32.pt").exists():
        infermeter.export("resnet18", models / "resnet18-32.pt", resolution=32, weights="random")
    stop = ["--ci", "0.02", "--duration", "10"]
    return [Configuration("cpu-spin-500us-t1", "spin-500us.pt", ["--threads", "1", *stop]),
            Configuration("cpu-resnet18-32px-t1", "resnet18-32.pt", ["--threads", "1", *stop]),
            Configuration("cpu-resnet18-32px-t2", "resnet18-32.pt", ["--threads", "2", *stop]),
            # Short fixed runs: three of them cost about what one statistical run does.
            Configuration("cpu-resnet18-32px-t1-2s", "resnet18-32.pt", ["--threads", "1", "--duration", "2"]),
            Configuration("cpu-resnet18-32px-t1-3s", "resnet18-32.pt", ["--threads", "1", "--duration", "3"])]


def gpu_preset(models: Path) -> list[Configuration]:
    path = models / "bert-fp16.pt"
    if not path.exists():
        infermeter.export("bert-base-squad2", path, precision="fp16", device="cuda:0", weights="random", seq_len=128)
    stop = ["--device", "cuda:0", "--ci", "0.02", "--duration", "2"]
    return [Configuration(f"gpu-bert-fp16-b{b}-{runner}", "bert-fp16.pt",
                          ["--batch-size", str(b), "--runner", runner, *stop])
            for runner in ("torchscript", "cuda-graph") for b in (1, 8)]


def collect(config: Configuration, out: Path, runs: int) -> None:
    """Runs the configuration until `runs` results are in its folder."""
    folder = out / config.name
    folder.mkdir(parents=True, exist_ok=True)
    walls_file = folder / "walls.json"
    walls = json.loads(walls_file.read_text()) if walls_file.exists() else {}
    (folder / "args.json").write_text(json.dumps(config.args))
    bench = shutil.which("infermeter-bench")
    for i in range(runs):
        target = folder / f"run-{i:02d}.json"
        if target.exists():
            continue
        started = time.perf_counter()
        done = subprocess.run([bench, str(out / "models" / config.model), *config.args, "--no-calibrate",
                               "--json", str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{config.name} run {i} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        walls[target.name] = time.perf_counter() - started
        walls_file.write_text(json.dumps(walls, indent=1))
        print(f"{config.name} run {i + 1}/{runs}: {walls[target.name]:.1f} s", flush=True)


def _throughput(doc: dict) -> tuple[float, float | None, float | None]:
    """(figure, stated lo, stated hi): across runs when repeated, else within the run."""
    m = doc["measurement"]
    if doc.get("repeats"):
        r = doc["repeats"]["inferences_per_s"]
        return m["inferences_per_s"], r["lo"], r["hi"]
    ci = m.get("throughput_ci") or {}
    return m["inferences_per_s"], ci.get("lo_inferences_per_s"), ci.get("hi_inferences_per_s")


def _p99(doc: dict) -> tuple[float | None, float | None, float | None]:
    host = doc["latency"]["host"]
    if doc.get("repeats"):
        r = doc["repeats"]["p99_ns"]
        return host["p99_ns"], r["lo"], r["hi"]
    bounds = (host.get("intervals") or {}).get("p99_ns") or [None, None]
    return host["p99_ns"], bounds[0], bounds[1]


def _covers(lo, hi, truth) -> bool:
    return lo is not None and hi is not None and lo <= truth <= hi


@dataclass
class Coverage:
    name: str
    runs: int
    cv: dict  # figure -> coefficient of variation across runs
    single: dict  # figure -> (share covered, median stated half-width relative)
    repeated: dict  # figure -> (share covered, median stated half-width relative): R runs spread over the span
    back_to_back: dict  # figure -> share covered by R consecutive runs, as `--repeat R` makes them
    wall_single_s: float
    wall_repeated_s: float


def _subsets(n: int, r: int, seed: int = 0) -> list[tuple[int, ...]]:
    every = list(itertools.combinations(range(n), r))
    return every if len(every) <= MAX_SUBSETS else random.Random(seed).sample(every, MAX_SUBSETS)


def _judge(docs: list[dict], subsets: list[tuple[int, ...]], read) -> tuple[tuple, tuple]:
    """(single run's coverage and width, R-run subsets' coverage and width)."""
    values = [read(d)[0] for d in docs]
    single_hits, single_widths = [], []
    for i, d in enumerate(docs):
        figure, lo, hi = read(d)
        truth = statistics.median(values[:i] + values[i + 1:])
        single_hits.append(_covers(lo, hi, truth))
        if lo is not None and hi is not None:
            single_widths.append((hi - lo) / 2 / figure)
    repeated_hits, repeated_widths = [], []
    for subset in subsets:
        combined = json.loads(_native.combine_repeats([json.dumps(docs[i]) for i in subset], "fresh processes"))
        figure, lo, hi = read(combined)
        truth = statistics.median([v for j, v in enumerate(values) if j not in subset])
        repeated_hits.append(_covers(lo, hi, truth))
        if lo is not None and hi is not None:
            repeated_widths.append((hi - lo) / 2 / figure)

    def share(hits, widths):
        return sum(hits) / len(hits), statistics.median(widths) if widths else float("nan")

    return share(single_hits, single_widths), share(repeated_hits, repeated_widths)


def analyse(folder: Path, repeats: int, min_runs: int = 20) -> Coverage:
    """A figure some runs could not state (p99 from too few samples) is
    judged over the runs that state it, when at least `min_runs` do."""
    files = sorted(folder.glob("run-*.json"))
    docs = [json.loads(f.read_text()) for f in files]
    walls = json.loads((folder / "walls.json").read_text())
    out = Coverage(folder.name, len(docs), {}, {}, {}, {}, statistics.mean(walls.values()),
                   repeats * statistics.mean(walls.values()))
    unstated = (math.nan, math.nan)
    for label, read in (("throughput", _throughput), ("p99", _p99)):
        stating = [d for d in docs if read(d)[0] is not None]
        if len(stating) < min_runs:
            out.cv[label], out.single[label], out.repeated[label] = math.nan, unstated, unstated
            out.back_to_back[label] = math.nan
            continue
        subsets = _subsets(len(stating), repeats)
        values = [read(d)[0] for d in stating]
        out.cv[label] = statistics.stdev(values) / statistics.mean(values)
        out.single[label], out.repeated[label] = _judge(stating, subsets, read)
        consecutive = [tuple(range(i, i + repeats)) for i in range(len(stating) - repeats + 1)]
        out.back_to_back[label] = _judge(stating, consecutive, read)[1][0]
    return out


def table(rows: list[Coverage], repeats: int) -> str:
    head = ("| configuration | runs | run-to-run CV: throughput, p99 | one run's interval: covers (throughput, p99) "
            f"| its half-width | {repeats} runs spread over the span: covers | its half-width "
            f"| {repeats} runs back to back: covers | wall s: 1 run, {repeats} runs |")
    lines = [head, "|" + "---|" * 9]
    for c in rows:
        lines.append(_row(c))
    return "\n".join(lines)


def _share(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.0%}"


def _width(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"


def _row(c: Coverage) -> str:
    return (f"| {c.name} | {c.runs} | {_width(c.cv['throughput'])}, {_width(c.cv['p99'])} "
            f"| {_share(c.single['throughput'][0])}, {_share(c.single['p99'][0])} "
            f"| {_width(c.single['throughput'][1])}, {_width(c.single['p99'][1])} "
            f"| {_share(c.repeated['throughput'][0])}, {_share(c.repeated['p99'][0])} "
            f"| {_width(c.repeated['throughput'][1])}, {_width(c.repeated['p99'][1])} "
            f"| {_share(c.back_to_back['throughput'])}, {_share(c.back_to_back['p99'])} "
            f"| {c.wall_single_s:.1f}, {c.wall_repeated_s:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=("cpu", "gpu"), help="collect this preset's configurations")
    parser.add_argument("--only", help="collect only configurations whose name contains this")
    parser.add_argument("--runs", type=int, default=24, help="fresh-process runs per configuration (default 24)")
    parser.add_argument("--repeats", type=int, default=3, help="runs combined in one repeated measurement")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--analyse", action="store_true", help="only analyse what OUT holds")
    args = parser.parse_args()
    if args.runs < 20:
        parser.error("--runs must be at least 20: fewer leave the coverage share too coarse to judge 90%")
    if args.preset and not args.analyse:
        (args.out / "models").mkdir(parents=True, exist_ok=True)
        configs = (cpu_preset if args.preset == "cpu" else gpu_preset)(args.out / "models")
        for config in configs:
            if args.only is None or args.only in config.name:
                collect(config, args.out, args.runs)
    folders = sorted(p.parent for p in args.out.glob("*/walls.json"))
    print(table([analyse(f, args.repeats) for f in folders], args.repeats))


if __name__ == "__main__":
    main()
