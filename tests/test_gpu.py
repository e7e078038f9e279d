"""The GPU paths: CUDA-graph replay, AOTInductor on CUDA (plain, replayed as
graphs, and one graph per size a dynamic batcher forms), the trust check on a
CUDA package, device timing and the device's name. Skipped without a CUDA
device (CI has none); run on a GPU machine with
`python3 -m pytest -q tests/test_gpu.py`."""

import hashlib

import pytest
import torch

import infermeter
from infermeter.sweep import load_config, run_sweep
from infermeter.sweep.store import ResultsFile
from sweep_helpers import write_config
from tampered_package import rewritten

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


@pytest.fixture(scope="module")
def cuda_package(tmp_path_factory):
    """A batch-dynamic fp16 package compiled for the GPU."""
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8)).eval()
    report = infermeter.export(model, tmp_path_factory.mktemp("aoti") / "m.pt2", inputs=torch.rand(2, 64),
                               format="aoti", device="cuda:0", precision="fp16")
    assert report.info["exported_on"] == "cuda:0" and report.info["batch_dynamic"]
    return report.path


def test_aoti_package_runs_on_the_gpu(cuda_package):
    for replicas in ("per-thread", "shared"):
        r = infermeter.benchmark(cuda_package, runner="aoti", batch_size=8, threads=2, replicas=replicas,
                                 duration=0.5, **QUICK)
        assert r.requests > 50 and r.device_latency is not None and r.model["format"] == "aoti"


def test_aoti_graph_replays_a_container_per_worker(cuda_package):
    """aoti-graph loads each worker's container for torch's single-threaded
    run (no completion event to query after a capture); a shared container
    entered by two workers is refused with the way out."""
    r = infermeter.benchmark(cuda_package, runner="aoti-graph", batch_size=8, threads=2, duration=0.5, **QUICK)
    assert r.requests > 50 and r.model["runner"] == "aoti-graph"
    with pytest.raises(ValueError, match="needs a container per worker"):
        infermeter.benchmark(cuda_package, runner="aoti-graph", replicas="shared", threads=2, duration=0.2, **QUICK)


@pytest.mark.parametrize("runner, model", [("aoti-graph", "cuda_package"), ("cuda-graph", "conv_file")])
def test_graph_runners_replay_each_size_a_batcher_forms(runner, model, request):
    """Poisson arrivals and a 1 ms delay form batches of every size up to 8;
    each is computed by the captured graph of the next captured size (the
    second capture in one AOTInductor container failed on the H100 before
    the single-threaded run), and the padding is counted, never as inferences."""
    captured = (1, 2, 4, 8)
    r = infermeter.benchmark(request.getfixturevalue(model), runner=runner, load="dynamic-batching", rate=3000,
                             arrival="poisson", max_batch=8, max_queue_delay=0.001,
                             capture_batches=",".join(map(str, captured)), duration=1.0, **QUICK)
    b = r.batching
    assert r.requests > 1000 and b.items == r.requests
    assert set(b.compute_by_size) <= set(captured) and len(b.compute_by_size) >= 2
    for items in b.batches_by_items:
        assert min(s for s in captured if s >= items) in b.compute_by_size
    computed = sum(size * c.batches for size, c in b.compute_by_size.items())
    assert computed - b.items == b.padded_items
    assert r.inferences_per_s == pytest.approx(r.requests_per_s)


def test_a_changed_cuda_package_is_refused_before_it_loads(cuda_package, tmp_path):
    changed = rewritten(cuda_package, tmp_path / "changed.pt2", change_library=lambda b: b + b"\0")
    with pytest.raises(ValueError, match="is not the one infermeter's export recorded"):
        infermeter.benchmark(str(changed), runner="aoti-graph", duration=0.2, **QUICK)
    marker = tmp_path / "compiler-ran"
    stripped = rewritten(cuda_package, tmp_path / "stripped.pt2", compile_command=f"touch {marker}; false")
    with pytest.raises(ValueError, match="which infermeter's export recorded, is missing"):
        infermeter.benchmark(str(stripped), runner="aoti", duration=0.2, **QUICK)
    assert not marker.exists()
    trusted = infermeter.benchmark(str(changed), runner="aoti-graph", trust=True, duration=0.3, **QUICK)
    assert trusted.requests > 0
    assert trusted.model["sha256"] == hashlib.sha256(changed.read_bytes()).hexdigest()


def test_device_name_is_the_devices_own(conv_file):
    env = infermeter.benchmark(conv_file, duration=0.2, **QUICK).environment
    assert env["device_name"] == torch.cuda.get_device_name(0)
    major, minor = torch.cuda.get_device_capability(0)
    assert env["compute_capability"] == f"{major}.{minor}"
