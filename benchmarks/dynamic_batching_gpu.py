"""Dynamic batching on the lent GPU, in phases that each fit one device call
(docs/dynamic-batching.md has the figures):

  export   BERT-base (SQuAD head) fp16, seq 128, as a batch-dynamic
           AOTInductor package (one compile, about 110 s on an H100).
  service  closed-loop service times at each captured batch size, one
           instance: the input of `infermeter predict`.
  runs     dynamic-batching runs at fixed rates, for checking predictions.
  search   the highest rate meeting the SLA (p95 < 10 ms by default): fixed
           batches in an open loop against dynamic batching, one instance each.

Every result is saved under --out as it is measured, so a call cut short
keeps what it finished; a phase skips what is already there.

    python3 benchmarks/dynamic_batching_gpu.py --phase export service runs --out results/db
    python3 benchmarks/dynamic_batching_gpu.py --phase search --out results/db

The same flow on the CPU, small (a check of the script, not a study):

    python benchmarks/dynamic_batching_gpu.py --phase export service runs search --out /tmp/db \
        --device cpu --model resnet18 --seq-len 0 --precision fp32 --format torchscript --runner torchscript \
        --sizes 1,2,4 --seconds 1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import infermeter
from infermeter.find_rate import find_rate



def runs_of(sizes: list[int]) -> list[tuple[int, float, float]]:
    """(max_batch, max_queue_delay s, share of that max_batch's full-batch
    capacity) of each prediction check."""
    return [(sizes[-1], 0.002, 0.5), (sizes[-2], 0.001, 0.7), (sizes[-1], 0.004, 0.85)]


def searches_of(sizes: list[int]) -> list[tuple[str, dict]]:
    """Fixed batches in an open loop, then dynamic batching settings."""
    jobs = [(f"fixed-b{b}", dict(batch_size=b)) for b in sorted({sizes[0], *sizes[-3:]})]
    for mb, delay in ((sizes[-2], 0.002), (sizes[-1], 0.002), (sizes[-1], 0.004)):
        jobs.append((f"dynamic-mb{mb}-d{delay * 1e3:g}ms",
                     dict(load="dynamic-batching", max_batch=mb, max_queue_delay=delay,
                          capture_batches=",".join(str(s) for s in sizes if s <= mb))))
    return jobs


def common(args) -> dict:
    return dict(device=args.device, runner=args.runner, threads=1, warmup=0.5, calibrate=False)


def package(args) -> Path:
    suffix = ".pt2" if args.format == "aoti" else ".pt"
    return args.out / f"{args.model}-{args.precision}{f'-seq{args.seq_len}' if args.seq_len else ''}{suffix}"


def export(args) -> None:
    path = package(args)
    if path.exists():
        print(f"{path.name}: present")
        return
    started = time.monotonic()
    report = infermeter.export(args.model, path, precision=args.precision, format=args.format, device=args.device,
                               weights="random", batch_size=8,
                               **({"seq_len": args.seq_len} if args.seq_len else {}))
    print(f"{path.name}: {time.monotonic() - started:.0f} s, batch dynamic: {report.info['batch_dynamic']}, "
          f"max rel error {report.info['max_rel_error']:.2e}", flush=True)


def service(args) -> None:
    for b in args.sizes:
        path = args.out / f"service-b{b}.json"
        if path.exists():
            continue
        r = infermeter.benchmark(str(package(args)), batch_size=b, duration=args.seconds, **common(args))
        r.save(path)
        print(f"service b{b:<3} {r.inferences_per_s:10.1f} inf/s  p50 {r.latency.p50:.3f} ms  "
              f"p99 {r.latency.p99:.3f} ms", flush=True)


def full_batch_capacity(out: Path, max_batch: int) -> float:
    """Requests/s one instance serves in batches of max_batch (closed loop)."""
    return infermeter.Result.load(out / f"service-b{max_batch}.json").inferences_per_s


def runs(args) -> None:
    for max_batch, delay, share in runs_of(args.sizes):
        path = args.out / f"run-mb{max_batch}-d{delay * 1e3:g}ms-{share:g}.json"
        if path.exists():
            continue
        rate = share * full_batch_capacity(args.out, max_batch)
        captured = ",".join(str(s) for s in args.sizes if s <= max_batch)
        r = infermeter.benchmark(str(package(args)), load="dynamic-batching", rate=rate, max_batch=max_batch,
                                 max_queue_delay=delay, capture_batches=captured, seed=1, duration=args.seconds * 2,
                                 **common(args))
        r.save(path)
        b = r.batching
        print(f"run mb{max_batch} delay {delay * 1e3:g} ms at {rate:.0f}/s: p50 {r.response_latency.p50:.3f} ms "
              f"p95 {r.response_latency.p95:.3f} ms p99 {r.response_latency.p99:.3f} ms, mean batch "
              f"{b.mean_batch_items:.2f}, padding {b.padding_fraction:.1%}, sustained {r.load_info['sustained']}",
              flush=True)


def search(args) -> None:
    for name, options in searches_of(args.sizes):
        path = args.out / f"search-{name}.json"
        if path.exists():
            continue
        started = time.monotonic()
        try:
            found = find_rate(str(package(args)), sla=args.sla, min_step_s=args.seconds, max_step_s=2 * args.seconds,
                              **common(args), **options)
        except (ValueError, infermeter.EngineError) as e:  # reported; the other searches go on
            print(f"search {name}: {type(e).__name__}: {e}", flush=True)
            continue
        path.write_text(json.dumps(found.to_dict(), indent=1))
        best = found.best
        items = best.offered_rate_per_s * found.batch_size if best else math.nan
        print(f"search {name}: {items:.1f} inferences/s meet {args.sla} "
              f"({len(found.steps)} steps, {time.monotonic() - started:.0f} s)", flush=True)


PHASES = {"export": export, "service": service, "runs": runs, "search": search}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phase", nargs="+", choices=list(PHASES), required=True)
    p.add_argument("--out", type=Path, default=Path("results/db"))
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--model", default="bert-base-squad2")
    p.add_argument("--seq-len", type=int, default=128, help="0: the model takes none")
    p.add_argument("--precision", default="fp16")
    p.add_argument("--format", default="aoti", choices=("aoti", "torchscript"))
    p.add_argument("--runner", default="aoti-graph")
    p.add_argument("--sizes", type=lambda t: sorted(int(s) for s in t.split(",")), default=[1, 2, 4, 8, 16, 32],
                   help="captured batch sizes, and the closed-loop service points (at least three)")
    p.add_argument("--sla", default="p95<10ms")
    p.add_argument("--seconds", type=float, default=2.0, help="a service point's length (runs: twice it)")
    args = p.parse_args()
    if len(args.sizes) < 3:
        p.error("--sizes needs at least three sizes")
    args.out.mkdir(parents=True, exist_ok=True)
    for phase in args.phase:
        PHASES[phase](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
