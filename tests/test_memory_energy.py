"""Memory and energy per run against ground truth: the static bound equals
bytes counted by hand (weights, one request's inputs and outputs per
thread); the host's peak resident set grows by what a known allocation
adds; on a GPU (skipped elsewhere), the allocator's peak bounds the static
bound from above, and the energy figure agrees with NVML's counter read
independently around the run (ctypes, not the engine's loader) and with
mean power x time, and a busy device draws clearly more than an idle one."""

from __future__ import annotations

import ctypes

import pytest
import torch

import infermeter
from infermeter.known_latency import spin_model
from infermeter.torchscript_export import save_torchscript

QUICK = dict(warmup=0.1, calibrate=False)
FEATURES, BATCH = 256, 4
WEIGHT_BYTES = FEATURES * FEATURES * 4  # Linear(256, 256) without bias, float32
IO_BYTES = 2 * BATCH * FEATURES * 4  # its input and output at batch 4


class AllocatesOnTheHost(torch.nn.Module):
    """Fills a buffer of `mib` MiB on every request: resident while it runs."""

    def __init__(self, mib: int):
        super().__init__()
        self.elements = mib * 1024 * 1024 // 4

    def forward(self, x):
        scratch = torch.ones(self.elements)
        return x + scratch[0]


@pytest.fixture(scope="module")
def linear(tmp_path_factory):
    folder = tmp_path_factory.mktemp("memory")
    plain = save_torchscript(torch.nn.Linear(FEATURES, FEATURES, bias=False), torch.rand(BATCH, FEATURES),
                             folder / "linear.pt")
    frozen = folder / "frozen.pt"
    infermeter.export(torch.nn.Linear(FEATURES, FEATURES, bias=False).eval(), frozen,
                      inputs=torch.rand(BATCH, FEATURES))
    return plain, frozen


@pytest.mark.parametrize("which", ["plain", "frozen"])
@pytest.mark.parametrize("threads,replicas,copies", [(1, "per-thread", 1), (2, "per-thread", 2), (2, "shared", 1)])
def test_the_static_bound_is_the_bytes_counted_by_hand(linear, which, threads, replicas, copies):
    path = linear[0] if which == "plain" else linear[1]  # frozen: the weights are constants of the graph
    r = infermeter.benchmark(str(path), batch_size=BATCH, threads=threads, replicas=replicas, duration=0.2, **QUICK)
    m = r.memory
    assert m.weights == WEIGHT_BYTES
    assert m.inputs + m.outputs == IO_BYTES
    assert m.lower_bound == copies * WEIGHT_BYTES + threads * IO_BYTES


def test_the_host_peak_grows_by_what_a_known_allocation_adds(tmp_path):
    lean = save_torchscript(AllocatesOnTheHost(1), torch.rand(1), tmp_path / "lean.pt", method="script")
    heavy = save_torchscript(AllocatesOnTheHost(256), torch.rand(1), tmp_path / "heavy.pt", method="script")
    peaks = {}
    for name, path in (("lean", lean), ("heavy", heavy)):
        r = infermeter.benchmark(str(path), duration=0.3, intra_op_threads=1, **QUICK)
        assert r.memory.host_peak_method.startswith("kernel high-water mark")
        peaks[name] = r.memory.host_peak_rss
    grown_mib = (peaks["heavy"] - peaks["lean"]) / 2**20
    # 256 MiB filled per request (1 MiB in the lean one), and freed after it: the peak holds one.
    assert 255 * 0.9 <= grown_mib <= 255 * 1.25, grown_mib


def test_what_cannot_be_read_here_is_none_with_the_reason():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: test_gpu_energy_agrees_with_nvml_read_independently covers it")
    path = infermeter.export(torch.nn.Linear(4, 4).eval(), "/tmp/infermeter-memory-linear.pt",
                             inputs=torch.rand(1, 4)).path
    r = infermeter.benchmark(str(path), duration=0.2, **QUICK)
    assert r.memory.device_peak_allocated is None and "not a GPU run" in r.memory.unavailable["device_peak"]
    assert r.energy.gpu is None and r.energy.unavailable["gpu"] == "not a GPU run"
    assert r.energy.cpu is not None or r.energy.unavailable["cpu"]


# ------------------------------------------------------------------ on a GPU

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class MatmulLoop(torch.nn.Module):
    """Back-to-back matrix products: a busy GPU. The weight is scaled so that
    activations neither saturate nor vanish over the loop."""

    def __init__(self, n: int = 2048):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n, n) / n**0.5)

    def forward(self, x):
        for _ in range(20):
            x = torch.tanh(x @ self.weight) * 2
        return x


def nvml_energy_mj() -> int:
    """Device 0's total energy counter, read through NVML directly."""
    nvml = ctypes.CDLL("libnvidia-ml.so.1")
    assert nvml.nvmlInit_v2() == 0
    handle = ctypes.c_void_p()
    assert nvml.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle)) == 0
    mj = ctypes.c_ulonglong()
    assert nvml.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(mj)) == 0
    return mj.value


@gpu
def test_gpu_energy_agrees_with_nvml_read_independently(tmp_path):
    path = tmp_path / "matmul.pt"
    infermeter.export(MatmulLoop().eval(), path, inputs=torch.rand(2048, 2048), device="cuda:0", precision="fp16")
    before = nvml_energy_mj()
    r = infermeter.benchmark(str(path), device="cuda:0", runner="cuda-graph", duration=4.0, **QUICK)
    outside_j = (nvml_energy_mj() - before) / 1e3
    e = r.energy.gpu
    assert e is not None, r.energy.unavailable
    # The run's window lies inside the one read around it (which adds load, warm-up and the counter's 100 ms steps).
    assert e.joules <= outside_j * 1.02
    assert e.joules >= 0.5 * outside_j
    assert e.mean_watts * r.energy.window_s == pytest.approx(e.joules, rel=1e-6)
    assert e.joules_per_inference == pytest.approx(e.joules / (r.requests * r.config["batch_size"]), rel=1e-6)
    m = r.memory
    assert m.device_peak_allocated >= m.weights
    assert m.device_process_peak is None or m.device_process_peak >= m.device_peak_reserved

    idle = infermeter.benchmark(str(spin_model(tmp_path / "spin.pt", 1_000_000)), device="cuda:0", duration=4.0,
                                **QUICK)
    print(f"busy: {e.joules:.1f} J in {r.energy.window_s:.2f} s ({outside_j:.1f} J around it), {e.mean_watts:.1f} W, "
          f"{e.joules_per_inference:.4g} J/inference; idle: {idle.energy.gpu.mean_watts:.1f} W; memory {m}")
    assert e.mean_watts > 1.5 * idle.energy.gpu.mean_watts
