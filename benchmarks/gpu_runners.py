"""Each runner against the best of PyTorch's own ways to run the same model, on a GPU.

BERT-base SQuAD2 (seq 128) and ResNet50, fp16, batch 1, 8 and 32, one client
thread. The references, each measured in this process with the same weights
and inputs, replayed back to back as a CUDA graph and timed with CUDA events
(no per-request synchronisation, no harness):

- ts-graph: the frozen TorchScript module infermeter exported, captured once;
- compile: torch.compile of the eager model (Inductor, default mode, static
  shapes), captured once;
- compile-max-autotune (--max-autotune-reference): the same with
  mode="max-autotune-no-cudagraphs" (a much longer compile).

These are references for what the GPU can do with PyTorch's kernels, not
hardware limits. Every infermeter runner (torchscript, cuda-graph on the
TorchScript export; aoti, aoti-graph on an AOTInductor package compiled per
batch with static shapes and freezing) is reported as inferences/s and as a
share of the best reference at that batch.

    python3 benchmarks/gpu_runners.py --phase export --jobs 6   # compile the packages side by side
    python3 benchmarks/gpu_runners.py --phase measure           # prints a Markdown table, writes every result

Exports go to --out/models, packages through the compile cache; a second run reuses both.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import torch

import infermeter
from infermeter import zoo

MODELS = {"bert-base-squad2": {"seq_len": 128}, "resnet50": {}}
BATCHES = (1, 8, 32)
RUNNERS = ("torchscript", "cuda-graph", "aoti", "aoti-graph")


def model_path(folder: Path, name: str, fmt: str, batch: int) -> Path:
    return folder / (f"{name}-fp16.pt" if fmt == "torchscript" else f"{name}-fp16-b{batch}.pt2")


def export_one(job: tuple) -> str:
    """One export (run in its own process): a TorchScript file, or an AOTInductor package static at `batch`."""
    name, fmt, batch, device, folder = job
    path = model_path(Path(folder), name, fmt, batch)
    if path.exists():
        return f"{path.name}: present"
    started = time.monotonic()
    try:
        aoti = {"static_batch": True} if fmt == "aoti" else {}
        report = infermeter.export(name, path, precision="fp16", format=fmt, device=device, weights="random",
                                   batch_size=batch, **aoti, **MODELS[name])
    except Exception as e:  # noqa: BLE001 - reported; the other exports go on
        return f"{path.name}: failed: {type(e).__name__}: {str(e)[:300]}"
    compile_s = report.info.get("compile_s")
    return (f"{path.name}: {time.monotonic() - started:.0f} s"
            + ("" if compile_s is None else f" (compile {compile_s:.0f} s, cache {report.info['compile_cache']})"))


def export_all(args) -> None:
    jobs = [(name, "torchscript", 1, args.device, str(args.folder)) for name in args.models]
    jobs += [(name, "aoti", batch, args.device, str(args.folder)) for name in args.models for batch in args.batches]
    # Spawned, not forked: each child initialises CUDA itself.
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for line in pool.imap_unordered(export_one, jobs):
            print(line, flush=True)


def replayed_per_s(fn, inputs, batch: int, device: str, replays: int) -> float:
    """Inferences/s of `fn(*inputs)` captured once as a CUDA graph and
    replayed back to back, timed with CUDA events."""
    stream = torch.cuda.Stream(device)
    with torch.inference_mode():
        with torch.cuda.stream(stream):
            for _ in range(3):  # profiling runs, autotuning, cuDNN's choices: before capture
                fn(*inputs)
        stream.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            fn(*inputs)
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


def references(name: str, batch: int, args) -> dict[str, float | str]:
    """Each reference's inferences/s (or why it failed) at `batch`."""
    out: dict[str, float | str] = {}
    built = zoo.build(name, batch_size=batch, weights="random", **MODELS[name])
    inputs = tuple(t.to(args.device).half() if t.is_floating_point() else t.to(args.device) for t in built.inputs)
    module = built.module.to(args.device).half().eval()
    scripted = torch.jit.load(str(model_path(args.folder, name, "torchscript", 1)), map_location=args.device).eval()
    candidates = {"ts-graph": lambda: scripted,
                  "compile": lambda: torch.compile(module, dynamic=False)}
    if args.max_autotune_reference:
        candidates["compile-max-autotune"] = lambda: torch.compile(module, mode="max-autotune-no-cudagraphs",
                                                                   dynamic=False)
    for label, make in candidates.items():
        started = time.monotonic()
        try:
            torch._dynamo.reset()
            out[label] = replayed_per_s(make(), inputs, batch, args.device, args.replays)
        except Exception as e:  # noqa: BLE001 - reported in the table
            out[label] = f"failed: {type(e).__name__}: {str(e)[:200]}"
        print(f"{name} b{batch} {label}: {out[label]} ({time.monotonic() - started:.0f} s)", flush=True)
    return out


def runner_row(name: str, batch: int, runner: str, args, best: float | None) -> tuple[list, dict | None]:
    fmt = "aoti" if runner.startswith("aoti") else "torchscript"
    path = model_path(args.folder, name, fmt, batch)
    if not path.exists():
        return [name, batch, runner, "not exported", "", "", "", "", ""], None
    try:
        r = infermeter.benchmark(path, batch_size=batch, device=args.device, runner=runner, warmup=1.0,
                                 duration=args.duration)
    except Exception as e:  # noqa: BLE001 - reported in the table
        return [name, batch, runner, f"failed: {str(e)[:120]}", "", "", "", "", ""], None
    doc = r.to_dict()
    bound = (doc["measurement"].get("launch_bound") or {}).get("launch_bound")
    floor = (r.calibration or {}).get("request_floor_ns")
    share = "-" if not best else f"{r.inferences_per_s / best:.1%}"
    return ([name, batch, runner, f"{r.inferences_per_s:.0f}", share, f"{r.latency.p50:.3f}",
             f"{r.device_latency.p50:.3f}" if r.device_latency else "-", "yes" if bound else "no",
             "-" if floor is None else f"{floor / 1e3:.1f}"], doc)


def measure_all(args) -> None:
    rows, results = [], []
    for name in args.models:
        for batch in args.batches:
            refs = references(name, batch, args)
            numbers = {k: v for k, v in refs.items() if isinstance(v, float)}
            best = max(numbers.values(), default=None)
            for label, value in refs.items():
                rows.append([name, batch, f"reference: {label}",
                             f"{value:.0f}" if isinstance(value, float) else value,
                             f"{value / best:.1%}" if isinstance(value, float) else "", "", "", "", ""])
            for runner in RUNNERS:
                row, doc = runner_row(name, batch, runner, args, best)
                rows.append(row)
                print(row, flush=True)
                results.append({"model": name, "batch": batch, "runner": runner, "references": refs, "result": doc})
            torch.cuda.empty_cache()
    (args.out / "results.json").write_text(json.dumps(results) + "\n")
    props = torch.cuda.get_device_properties(args.device)
    print(f"\n{props.name}, torch {torch.__version__}, CUDA {torch.version.cuda}, {args.duration:g} s per point, "
          f"one client thread, fp16, random weights\n")
    print("| model | batch | runner or reference | inferences/s | of best reference | host p50 ms | device p50 ms | "
          "launch-bound | harness floor µs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--phase", choices=["export", "measure", "all"], default="all")
    p.add_argument("--jobs", type=int, default=4, help="exports compiled side by side")
    p.add_argument("--duration", type=float, default=3.0, help="measured seconds per point")
    p.add_argument("--replays", type=int, default=2000, help="graph replays timed per reference")
    p.add_argument("--models", nargs="*", default=list(MODELS))
    p.add_argument("--batches", nargs="*", type=int, default=list(BATCHES))
    p.add_argument("--max-autotune-reference", action="store_true",
                   help="also torch.compile with mode max-autotune-no-cudagraphs (minutes per shape)")
    p.add_argument("--out", type=Path, default=Path("gpu-runners"))
    args = p.parse_args()
    args.folder = args.out / "models"
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.phase in ("export", "all"):
        export_all(args)
    if args.phase in ("measure", "all"):
        measure_all(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
