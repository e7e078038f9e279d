"""Dynamic batching on the CPU against ground truth, with figures for
docs/dynamic-batching.md. The model is a spin whose batch of n takes exactly
1 ms + 0.1 ms x n (known_latency.BatchedSpin).

1. Constant arrivals: p50, p99 and mean batch against values derived by hand.
2. Poisson arrivals: the same against an independent simulation of the rules
   replaying the run's traced arrivals (tests/batching_reference.py).
3. Prediction: `infermeter predict`'s figures from closed-loop service times
   at batch 1..max, against the engine's own dynamic-batching runs.

    python benchmarks/dynamic_batching_truth.py [--seconds 4]

Machines here are shared: run it on a quiet one, and compare the columns of
one run only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import infermeter  # noqa: E402
from batching_reference import DERIVED, simulate, traced_due_ms  # noqa: E402
from infermeter.known_latency import batched_spin_model  # noqa: E402
from infermeter.predict import service_times_from_results  # noqa: E402
from infermeter.predict import simulate as predict  # noqa: E402

RUN = dict(load="dynamic-batching", warmup=0.3, calibrate=False)
POISSON = (
    dict(rate=1500, threads=1, max_batch=8, max_queue_delay=0.002),
    dict(rate=2500, threads=2, max_batch=4, max_queue_delay=0.001),
    dict(rate=1200, threads=1, max_batch=8, max_queue_delay=0.003, preferred_batches="4"),
)
PREDICTED = (
    dict(rate=1500, threads=1, max_batch=8, max_queue_delay=0.002),
    dict(rate=3000, threads=1, max_batch=8, max_queue_delay=0.001),
    dict(rate=800, threads=1, max_batch=4, max_queue_delay=0.004),
)


def off(measured: float, expected: float) -> str:
    return f"{100 * (measured - expected) / expected:+.1f}%"


def row(name: str, measured: tuple, expected: tuple) -> str:
    cells = [f"{m:.3f} / {e:.3f} ({off(m, e)})" for m, e in zip(measured, expected)]
    return f"| {name} | " + " | ".join(cells) + " |"


HEADER = "| configuration | p50 ms, measured / expected | p99 ms | mean batch |\n|---|---|---|---|"


def derived(model: str, seconds: float) -> None:
    print("\nConstant arrivals, one instance, against figures derived by hand\n\n" + HEADER)
    for case in DERIVED:
        r = infermeter.benchmark(model, arrival="constant", duration=seconds, **RUN, **case.options)
        print(row(case.name, (r.response_latency.p50, r.response_latency.p99, r.batching.mean_batch_items),
                  (case.p50_ms, case.p99_ms, case.mean_batch)), flush=True)


def label(options: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in options.items())


def poisson(model: str, seconds: float, folder: Path) -> None:
    print("\nPoisson arrivals against a simulation of the rules on the traced arrivals\n\n" + HEADER)
    for options in POISSON:
        trace = folder / "trace.jsonl"
        r = infermeter.benchmark(model, arrival="poisson", seed=7, duration=seconds, trace=str(trace), **RUN,
                                 **options)
        preferred = tuple(int(p) for p in options.get("preferred_batches", "").split(",") if p)
        sim = simulate(traced_due_ms(trace), instances=options["threads"], max_batch=options["max_batch"],
                       max_queue_delay_ms=options["max_queue_delay"] * 1e3, preferred=preferred)
        print(row(label(options), (r.response_latency.p50, r.response_latency.p99, r.batching.mean_batch_items),
                  (sim.percentile_ms(50), sim.percentile_ms(99), sim.mean_batch)), flush=True)


def predicted(model: str, seconds: float) -> None:
    print("\nPredicted from closed-loop service times (batch 1..8, one instance) against measured\n\n"
          + HEADER.replace("expected", "predicted"))
    service = service_times_from_results(
        [infermeter.benchmark(model, batch_size=b, duration=seconds / 2, warmup=0.3, calibrate=False)
         for b in range(1, 9)])
    for options in PREDICTED:
        r = infermeter.benchmark(model, arrival="poisson", seed=3, duration=seconds, **RUN, **options)
        p = predict(service, rate=options["rate"], max_batch=options["max_batch"],
                    max_queue_delay=options["max_queue_delay"], instances=options["threads"], seed=3)
        print(row(label(options), (r.response_latency.p50, r.response_latency.p99, r.batching.mean_batch_items),
                  (p.p50_ms, p.p99_ms, p.mean_batch_items)), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="each dynamic-batching run's length")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = str(batched_spin_model(Path(folder) / "spin.pt", 1_000_000, 100_000))
        derived(model, args.seconds)
        poisson(model, args.seconds, Path(folder))
        predicted(model, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
