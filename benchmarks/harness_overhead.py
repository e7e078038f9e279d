"""Per-request cost of the engine vs a plain Python timing loop, driving a
no-op TorchScript module and a tiny Linear module. Prints both and the ratio.
A figure, not a test: run it on a quiet machine and compare ratios."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

import infermeter
from infermeter import save_torchscript
from infermeter.torchscript_export import quiet_torchscript

REQUESTS = 50_000


class Identity(torch.nn.Module):
    def forward(self, x):
        return x


def python_loop_ns(path: Path, x: torch.Tensor) -> float:
    """The loop users write today: perf_counter around each call."""
    with quiet_torchscript():
        module = torch.jit.load(str(path))
    latencies = []
    with torch.inference_mode():
        for _ in range(1000):
            module(x)
        for _ in range(REQUESTS):
            t0 = time.perf_counter()
            module(x)
            latencies.append(time.perf_counter() - t0)
    return sum(latencies) / len(latencies) * 1e9


def engine_ns(path: Path) -> float:
    r = infermeter.benchmark(path, warmup=0.5, warmup_min_requests=1000, duration=None, requests=REQUESTS,
                             calibrate=False)
    return r.latency.mean * 1e6


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"no-op": (Identity(), torch.randn(1, 8)), "Linear(16, 16)": (torch.nn.Linear(16, 16), torch.randn(1, 16))}
        print(f"{'module':<16} {'python loop ns':>15} {'engine ns':>10} {'ratio':>6}")
        for name, (module, x) in cases.items():
            path = save_torchscript(module, x, Path(tmp) / "m.pt")
            py, native = python_loop_ns(path, x), engine_ns(path)
            print(f"{name:<16} {py:>15.0f} {native:>10.0f} {py / native:>6.1f}")


if __name__ == "__main__":
    main()
