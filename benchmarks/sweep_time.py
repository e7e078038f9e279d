"""How long a sweep takes with the statistical stop against the fixed rule,
and how far apart their figures are.

The grid (by default the studies' g5_vs_g4dn: 80 points) runs once with the
statistical rule (stop when throughput and the p95 are known to +-2% at 95%).
A sample of its points then runs again with the fixed rule (10 s after the
same warm-up) on the same exported models; the fixed rule's grid time is the
sample's mean point time times the grid's points. Printed: both wall times,
and per sampled point both throughputs and p95s and their disagreement.

    python3 benchmarks/sweep_time.py --device cuda:0 --out sweep-time
    python3 benchmarks/sweep_time.py --ci-results results/gpu_study --out sweep-time   # reuse a ci sweep's results

A results folder passed with --ci-results must hold points of the same grid
measured with `ci:` (e.g. the GPU study's torchscript points); when it holds
only part of the grid, the statistical rule's grid time is its points' mean
time times the grid's points, and the sample is drawn from the points it has.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from infermeter.sweep import expand, load_config, run_sweep
from infermeter.sweep.point import measure_point
from infermeter.sweep.store import ResultsFile


def ci_grid(config, out: Path, instance: str | None) -> tuple[dict, float]:
    """Runs the grid with the statistical rule; its records by key and its wall time."""
    started = time.monotonic()
    run_sweep(config, out, instance=instance, resume=(out / "results.jsonl").exists(), progress=True)
    return ResultsFile(out).latest(), time.monotonic() - started


def points_time(records: dict, points: list) -> float:
    """The recorded time of these points (export included), summed: a
    results folder may hold other points too (other runners)."""
    return sum(records[pt.key]["finished_at"] - records[pt.key]["started_at"] for pt in points)


def sample(points: list, k: int) -> list:
    """k points spread evenly over the grid's order (models, precisions, threads, batch sizes)."""
    step = max(1, len(points) // k)
    return points[step // 2::step][:k]


def figures(record: dict) -> tuple[float, float]:
    """(inferences/s, p95 ms) of an ok record; NaNs otherwise."""
    if record["status"] != "ok" or record["result"]["latency"]["host"] is None:
        return math.nan, math.nan
    p95 = record["result"]["latency"]["host"]["p95_ns"]
    return record["result"]["measurement"]["inferences_per_s"], math.nan if p95 is None else p95 / 1e6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="g5_vs_g4dn", help="sweep config (default: the studies' g5_vs_g4dn)")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--instance", default=None)
    p.add_argument("--ci", type=float, default=0.02, help="the statistical rule's half width (default +-2%%)")
    p.add_argument("--ci-percentile", type=float, default=95.0)
    p.add_argument("--max-duration", type=float, default=30.0, help="most seconds per point with the ci rule")
    p.add_argument("--fixed-duration", type=float, default=10.0, help="the fixed rule's seconds per point")
    p.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per point, both rules")
    p.add_argument("--sample", type=int, default=8, help="points run again with the fixed rule")
    p.add_argument("--ci-results", type=Path, help="reuse a results folder of this grid measured with ci")
    p.add_argument("--out", type=Path, default=Path("sweep-time"))
    args = p.parse_args()

    base = load_config(args.config)
    statistical = base.model_copy(update={"device": args.device, "warmup": args.warmup, "duration": args.max_duration,
                                          "ci": args.ci, "ci_percentile": args.ci_percentile, "min_duration": 1.0})
    fixed = base.model_copy(update={"device": args.device, "warmup": args.warmup, "duration": args.fixed_duration})
    grid = expand(base)
    if args.ci_results:
        ci_records = ResultsFile(args.ci_results).latest()
        models = args.ci_results / "models"
    else:
        ci_records, _ = ci_grid(statistical, args.out / "ci", args.instance)
        models = args.out / "ci" / "models"
    measured = [pt for pt in grid if pt.key in ci_records]
    if not measured:
        raise SystemExit(f"the ci results hold none of the grid's {len(grid)} points")
    ci_wall = points_time(ci_records, measured) / len(measured) * len(grid)

    rows, fixed_times = [], []
    for point in sample(measured, args.sample):
        started = time.monotonic()
        record = measure_point(fixed, point, models, args.instance)
        fixed_times.append(time.monotonic() - started)
        (ci_rate, ci_p95), (f_rate, f_p95) = figures(ci_records[point.key]), figures(record)
        ci_point_s = ci_records[point.key]["finished_at"] - ci_records[point.key]["started_at"]
        rows.append((point.key, ci_rate, f_rate, ci_p95, f_p95, ci_point_s, fixed_times[-1]))
        print(rows[-1], flush=True)

    fixed_grid = sum(fixed_times) / len(fixed_times) * len(grid)
    print(f"\n{base.name}: {len(grid)} points on {args.device}; statistical rule +-{args.ci:.0%} on throughput and "
          f"p{args.ci_percentile:g} (95%), at most {args.max_duration:g} s; fixed rule {args.fixed_duration:g} s; "
          f"warm-up {args.warmup:g} s each\n")
    how = "measured" if len(measured) == len(grid) else f"from the {len(measured)} points measured"
    print(f"statistical rule, whole grid ({how}, exports included): {ci_wall:.0f} s")
    print(f"fixed rule, whole grid (from {len(rows)} sampled points): {fixed_grid:.0f} s\n")
    print("| point | inferences/s (ci) | inferences/s (fixed) | differ | p95 ms (ci) | p95 ms (fixed) | differ | "
          "s (ci) | s (fixed) |")
    print("|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for key, cr, fr, cp, fp, cs, fs in rows:
        dr, dp = abs(cr / fr - 1), abs(cp / fp - 1)
        worst = max(worst, dr if not math.isnan(dr) else 0, dp if not math.isnan(dp) else 0)
        print(f"| {key} | {cr:.1f} | {fr:.1f} | {dr:.1%} | {cp:.3f} | {fp:.3f} | {dp:.1%} | {cs:.1f} | {fs:.1f} |")
    print(f"\nlargest disagreement: {worst:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
