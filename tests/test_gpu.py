"""The GPU paths: CUDA-graph replay, AOTInductor on CUDA, device timing and
the device's name. Skipped without a CUDA device (CI has none); run on a GPU
machine with `python3 -m pytest -q tests/test_gpu.py`."""

import pytest
import torch

import infermeter
from infermeter.sweep import load_config, run_sweep
from infermeter.sweep.store import ResultsFile
from sweep_helpers import write_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
QUICK = dict(device="cuda:0", warmup=0.2, calibrate=False)


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU())
                                          for _ in range(12)])

    def forward(self, x):
        return self.body(x)


class SyncsWithTheHost(torch.nn.Module):
    """Data-dependent control flow: `bool(tensor)` copies to the host, which a
    CUDA graph cannot capture."""

    def forward(self, x):
        if bool(x.sum() > 0):
            return x * 2
        return x


@pytest.fixture(scope="module")
def conv_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpu") / "conv.pt"
    infermeter.export(ConvNet().eval(), path, inputs=torch.rand(1, 16, 32, 32), device="cuda:0")
    return path


def test_cuda_graph_runner_replays_faster_than_the_interpreter_at_batch_1(conv_file):
    scripted = infermeter.benchmark(conv_file, runner="torchscript", duration=1.0, **QUICK)
    graphed = infermeter.benchmark(conv_file, runner="cuda-graph", duration=1.0, **QUICK)
    assert graphed.runner == "cuda-graph" and graphed.requests > 100
    assert graphed.device_latency is not None and graphed.launch_latency is not None
    # 24 small kernels: the interpreter issues them one by one, a graph in one launch.
    assert graphed.launch_latency.p50 < scripted.launch_latency.p50
    assert graphed.latency.p50 < scripted.latency.p50
    lb = scripted.to_dict()["measurement"]["launch_bound"]
    assert set(lb) == {"launch_p50_over_host_p50", "launch_bound", "remedy"}
    if lb["launch_bound"]:
        assert lb["remedy"] == "cuda-graph runner" and "launch-bound" in scripted.summary()


def test_a_model_that_syncs_with_the_host_cannot_be_captured(tmp_path):
    path = infermeter.save_torchscript(SyncsWithTheHost(), torch.rand(2, 4, device="cuda:0"), tmp_path / "s.pt",
                                       method="script")
    with pytest.raises(infermeter.EngineError, match="cannot be captured as a CUDA graph.*use --runner torchscript"):
        infermeter.benchmark(path, runner="cuda-graph", duration=0.5, **QUICK)
    # The process and the device stay usable.
    assert infermeter.benchmark(path, runner="torchscript", duration=0.3, **QUICK).requests > 0


def test_many_workers_capture_and_finish_together(tmp_path, conv_file):
    """Graphs are registered with torch's default generator in a set that is not
    thread-safe: eight workers capturing and ending at once, run after run, and
    failed captures among them, must neither crash nor corrupt the heap."""
    bad = infermeter.save_torchscript(SyncsWithTheHost(), torch.rand(2, 4, device="cuda:0"), tmp_path / "s.pt",
                                      method="script")
    for _ in range(4):
        r = infermeter.benchmark(conv_file, runner="cuda-graph", threads=8, duration=0.2, **QUICK)
        assert r.requests > 8
        with pytest.raises(infermeter.EngineError, match="cannot be captured"):
            infermeter.benchmark(bad, runner="cuda-graph", threads=4, duration=0.2, **QUICK)
    assert torch.rand(4, device="cuda:0").shape == (4,)  # random draws still work


def test_a_sweep_records_the_capture_failure_and_goes_on(tmp_path, conv_file):
    bad = infermeter.save_torchscript(SyncsWithTheHost(), torch.rand(2, 4, device="cuda:0"), tmp_path / "s.pt",
                                      method="script")
    config = load_config(write_config(tmp_path / "g.yaml", device="cuda:0", runners=["cuda-graph"],
                                      models=[{"name": str(bad)}, {"name": str(conv_file)}], batch_sizes=[1]))
    outcome = run_sweep(config, tmp_path / "out", progress=False)
    records = {r["point"]["model"]: r for r in ResultsFile(outcome.results).records()}
    assert records[str(bad)]["status"] == "failed" and "cannot be captured" in records[str(bad)]["error"]
    assert records[str(conv_file)]["status"] == "ok"


def test_aoti_package_runs_on_the_gpu(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8)).eval()
    report = infermeter.export(model, tmp_path / "m.pt2", inputs=torch.rand(2, 64), format="aoti",
                               device="cuda:0", precision="fp16")
    assert report.info["exported_on"] == "cuda:0"
    for replicas in ("per-thread", "shared"):
        r = infermeter.benchmark(report.path, runner="aoti", batch_size=8, threads=2, replicas=replicas,
                                 duration=0.5, **QUICK)
        assert r.requests > 50 and r.device_latency is not None and r.model["format"] == "aoti"


def test_device_name_is_the_devices_own(conv_file):
    env = infermeter.benchmark(conv_file, duration=0.2, **QUICK).environment
    assert env["device_name"] == torch.cuda.get_device_name(0)
    major, minor = torch.cuda.get_device_capability(0)
    assert env["compute_capability"] == f"{major}.{minor}"
