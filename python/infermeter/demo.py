"""The built-in default job: a small torchvision model with random weights on
the CPU, over a few batch sizes and thread counts."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
import torchvision

from infermeter.bench import benchmark
from infermeter.result import Result
from infermeter.torchscript_export import save_torchscript

DEMO_MODEL = "resnet18"
DEMO_BATCH_SIZES = (1, 4)
DEMO_THREADS = (1, 2)


def export_demo_model(path: Path) -> Path:
    model = torchvision.models.resnet18(weights=None)  # random weights: timing does not depend on them
    return save_torchscript(model, torch.rand(1, 3, 224, 224), path, input_names=["image"],
                            info={"model": DEMO_MODEL, "weights": "random", "precision": "fp32"})


def table(results: list[Result]) -> str:
    header = f"{'batch':>5} {'threads':>7} {'inf/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'requests':>9}"
    rows = [header, "-" * len(header)]
    for r in results:
        lat = r.latency
        rows.append(f"{r.config['batch_size']:>5} {r.config['threads']:>7} {r.inferences_per_s:>9.1f} "
                    f"{lat.p50:>8.2f} {lat.p95:>8.2f} {lat.p99:>8.2f} {r.requests:>9}")
    return "\n".join(rows)


def run_demo(duration: float = 3.0, warmup: float = 1.0) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="infermeter-demo-") as tmp:
        path = export_demo_model(Path(tmp) / f"{DEMO_MODEL}.pt")
        points = [(b, t) for b in DEMO_BATCH_SIZES for t in DEMO_THREADS]
        for i, (batch, threads) in enumerate(points, 1):
            print(f"[{i}/{len(points)}] {DEMO_MODEL} batch {batch}, {threads} thread(s) ...", file=sys.stderr, flush=True)
            results.append(benchmark(path, batch_size=batch, threads=threads, duration=duration, warmup=warmup,
                                     calibrate=i == 1))
    print(f"{DEMO_MODEL} (random weights) on {results[0].environment['device_name']}, "
          f"torch {results[0].environment['torch_build']}")
    print(table(results))
    print(f"harness cost: {results[0].calibration['noop_request_ns']:.0f} ns per request")
    return results
