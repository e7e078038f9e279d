"""ResNet50 (random weights) on a GPU: batch 1 and 32, fp32 and fp16, 1 and 4
client threads, from Python and from the native binary. Prints a Markdown
table for docs/gpu-validation.md and writes every result as JSON."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import torchvision

import infermeter
from infermeter import save_torchscript

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16}


def export(precision: str, device: str, out_dir: Path) -> Path:
    dtype = PRECISIONS[precision]
    model = torchvision.models.resnet50(weights=None).to(device=device, dtype=dtype)
    return save_torchscript(model, torch.rand(1, 3, 224, 224, device=device, dtype=dtype),
                            out_dir / f"resnet50_{precision}.pt", input_names=["image"],
                            info={"model": "resnet50", "weights": "random", "precision": precision})


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--out", type=Path, default=Path("gpu-results"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    rows, failures = [], []
    for precision in PRECISIONS:
        path = export(precision, args.device, args.out)
        for batch in (1, 32):
            for threads in (1, 4):
                r = infermeter.benchmark(path, batch_size=batch, threads=threads, device=args.device,
                                         duration=args.duration, warmup=1.0)
                r.save(args.out / f"resnet50_{precision}_b{batch}_t{threads}.json")
                host, launch, dev = r.latency, r.launch_latency, r.device_latency
                if dev is None or dev.p50 > host.p50:
                    failures.append(f"{precision} b{batch} t{threads}: device time missing or above host")
                if launch is None or launch.p50 > host.p50:
                    failures.append(f"{precision} b{batch} t{threads}: launch time missing or above host")
                rows.append((precision, batch, threads, r.inferences_per_s, host.p50, host.p95, launch.p50, dev.p50,
                             dev.p95, r.calibration["noop_request_ns"]))
                print(f"{precision} batch {batch} threads {threads}: {r.inferences_per_s:.0f} inf/s", flush=True)

    binary = shutil.which("infermeter-bench") or str(Path(sys.executable).parent / "infermeter-bench")
    native_json = args.out / "native_fp32_b1_t1.json"
    subprocess.run([binary, str(args.out / "resnet50_fp32.pt"), "--device", args.device, "--duration",
                    str(args.duration), "--json", str(native_json), "--hlog", str(args.out / "native.hlog")],
                   check=True)
    native = infermeter.Result.load(native_json)

    print(f"\n{torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"driver {native.environment['driver_version']}\n")
    print("| precision | batch | threads | inferences/s | host p50 ms | host p95 ms | launch p50 ms | device p50 ms "
          "| device p95 ms | harness ns/request |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| {} | {} | {} | {:.1f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.0f} |".format(*row))
    lat = native.latency
    print(f"\nnative binary, fp32 batch 1, 1 thread: {native.inferences_per_s:.1f} inf/s, host p50 {lat.p50:.3f} ms, "
          f"device p50 {native.device_latency.p50:.3f} ms; device name in result: {native.environment['device_name']}")
    print("\n" + ("all device times present and below host latency" if not failures else "\n".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
