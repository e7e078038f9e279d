"""Every named model in fp32, fp16 and mixed precision at batch 1 and 8 on a
GPU: export (with its numeric check), then measure. Prints a Markdown table;
a model that fails is reported in the table, and the run goes on."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

import infermeter
from infermeter import zoo

PRECISIONS = ("fp32", "fp16", "mixed")
BATCHES = (1, 8)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--models", nargs="*", default=list(zoo.REGISTRY))
    args = p.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for precision in PRECISIONS:
                started = time.monotonic()
                try:
                    report = infermeter.export(name, Path(tmp) / f"{name}_{precision}.pt", precision=precision,
                                               device=args.device)
                except Exception as e:  # noqa: BLE001 - reported in the table
                    rows.append((name, precision, "-", f"export failed: {type(e).__name__}: {str(e)[:120]}"))
                    print(rows[-1], flush=True)
                    continue
                for batch in BATCHES:
                    try:
                        r = infermeter.benchmark(report.path, batch_size=batch, device=args.device,
                                                 duration=args.duration, warmup=0.5, calibrate=False)
                    except Exception as e:  # noqa: BLE001
                        rows.append((name, precision, batch, f"run failed: {str(e)[:120]}"))
                        continue
                    lat = r.latency
                    rows.append((name, precision, batch, f"{r.inferences_per_s:.1f} | {lat.p50:.3f} | {lat.p95:.3f} | "
                                 f"{r.launch_latency.p50:.3f} | {report.info['max_rel_error']:.1e} | "
                                 f"{report.info['weights']}"))
                    print(rows[-1], f"({time.monotonic() - started:.0f}s)", flush=True)
                torch.cuda.empty_cache()

    print(f"\n{torch.cuda.get_device_name(0)}, torch {torch.__version__}, {args.duration:.0f} s per point\n")
    print("| model | precision | batch | inferences/s | p50 ms | p95 ms | launch p50 ms | export error | weights |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, precision, batch, rest in rows:
        print(f"| {name} | {precision} | {batch} | {rest} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
