"""Each runner against the hardware's limit for the same graph, on a GPU.

BERT-base SQuAD2 (seq 128) and ResNet50, fp16, batch 1, 8 and 32, one client
thread. For every runner (torchscript, cuda-graph, aoti): inferences/s and
host / launch / device p50. The limit: the same frozen TorchScript module,
captured once as a CUDA graph in this process and replayed back to back,
timed with CUDA events (no per-request synchronisation, no harness). The
cuda-graph runner's ratio to it is the harness's whole cost at that size.

    python3 benchmarks/gpu_runners.py --out gpu-runners   # prints a Markdown table, writes every result

Exports go to --out/models and are reused by a second run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import infermeter
from infermeter import _native
from infermeter.input_spec import INPUT_SPEC_FILE, ModelInputs
from infermeter.zoo.registry import example_inputs

MODELS = {"bert-base-squad2": {"seq_len": 128}, "resnet50": {}}
BATCHES = (1, 8, 32)
RUNNERS = tuple(_native.runner_names())


def failed_row(name: str, batch: int, runner: str, what: str, limit: str) -> tuple:
    """A table row for a point that was not measured: every column present."""
    return (name, batch, runner, what, "", "", "", limit, "", "", "")


def export(name: str, options: dict, fmt: str, device: str, folder: Path) -> Path:
    path = folder / f"{name}-fp16.{'pt2' if fmt == 'aoti' else 'pt'}"
    if not path.exists():
        started = time.monotonic()
        report = infermeter.export(name, path, precision="fp16", format=fmt, device=device, weights="random",
                                   **options)
        print(f"exported {report} in {time.monotonic() - started:.0f} s", flush=True)
    return path


def graph_replay_limit(path: Path, batch: int, device: str, replays: int) -> float:
    """Inferences/s of back-to-back CUDA-graph replays of the TorchScript
    module in `path` at `batch`, timed with CUDA events."""
    extra = {INPUT_SPEC_FILE: ""}
    module = torch.jit.load(str(path), map_location=device, _extra_files=extra).eval()
    inputs = tuple(t.to(device) for t in example_inputs(ModelInputs.from_json(extra[INPUT_SPEC_FILE]).specs, batch))
    stream = torch.cuda.Stream(device)
    with torch.inference_mode():
        with torch.cuda.stream(stream):
            for _ in range(3):  # TorchScript's profiling runs, as the runner does before capturing
                module(*inputs)
        stream.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            module(*inputs)
        for _ in range(10):
            graph.replay()
        torch.cuda.synchronize(device)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(replays):
            graph.replay()
        stop.record()
        stop.synchronize()
    return replays * batch / (start.elapsed_time(stop) / 1e3)


def ms(summary) -> str:
    return "-" if summary is None else f"{summary.p50:.3f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--duration", type=float, default=3.0, help="measured seconds per point")
    p.add_argument("--replays", type=int, default=2000, help="graph replays timed for the limit")
    p.add_argument("--models", nargs="*", default=list(MODELS))
    p.add_argument("--out", type=Path, default=Path("gpu-runners"))
    args = p.parse_args()
    folder = args.out / "models"
    folder.mkdir(parents=True, exist_ok=True)

    rows, results = [], []
    for name in args.models:
        files = {}
        for fmt in ("torchscript", "aoti"):
            try:
                files[fmt] = export(name, MODELS[name], fmt, args.device, folder)
            except Exception as e:  # noqa: BLE001 - reported in the table; the other format goes on
                print(f"{name}: {fmt} export failed: {type(e).__name__}: {e}", flush=True)
        for batch in BATCHES:
            # The limit replays the TorchScript export: without it, there is none to compare with.
            limit = (graph_replay_limit(files["torchscript"], batch, args.device, args.replays)
                     if "torchscript" in files else None)
            shown_limit = "-" if limit is None else f"{limit:.0f}"
            for runner in RUNNERS:
                path = files.get("aoti" if runner == "aoti" else "torchscript")
                if path is None:
                    rows.append(failed_row(name, batch, runner, "export failed", shown_limit))
                    continue
                try:
                    r = infermeter.benchmark(path, batch_size=batch, device=args.device, runner=runner,
                                             warmup=1.0, duration=args.duration)
                except Exception as e:  # noqa: BLE001 - reported in the table
                    rows.append(failed_row(name, batch, runner, f"failed: {str(e)[:100]}", shown_limit))
                    print(rows[-1], flush=True)
                    continue
                doc = r.to_dict()
                results.append({"model": name, "batch": batch, "runner": runner, "limit_inferences_per_s": limit,
                                "result": doc})
                floor = (r.calibration or {}).get("request_floor_ns")
                rows.append((name, batch, runner, f"{r.inferences_per_s:.0f}", ms(r.latency), ms(r.launch_latency),
                             ms(r.device_latency), shown_limit,
                             "-" if limit is None else f"{r.inferences_per_s / limit:.1%}",
                             "yes" if (doc["measurement"].get("launch_bound") or {}).get("launch_bound") else "no",
                             "-" if floor is None else f"{floor / 1e3:.1f}"))
                print(rows[-1], flush=True)
            torch.cuda.empty_cache()

    (args.out / "results.json").write_text(json.dumps(results) + "\n")
    props = torch.cuda.get_device_properties(args.device)
    print(f"\n{props.name}, torch {torch.__version__}, CUDA {torch.version.cuda}, {args.duration:g} s per point, "
          f"one client thread, fp16, random weights\n")
    print("| model | batch | runner | inferences/s | host p50 ms | launch p50 ms | device p50 ms | "
          "graph-replay limit /s | of limit | launch-bound | harness floor µs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
