"""Bad input gives a clear exception naming the problem, never a crash."""

import pytest
import torch

from infermeter import EngineError, benchmark, save_torchscript
from infermeter.torchscript_export import quiet_torchscript

QUICK = dict(warmup=0.0, duration=None, requests=5, calibrate=False)


def test_missing_file(tmp_path):
    with pytest.raises(EngineError, match="model file not found: .*nothing.pt"):
        benchmark(tmp_path / "nothing.pt", **QUICK)


def test_file_that_is_not_torchscript(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"this is not a zip archive" * 100)
    with pytest.raises(EngineError, match="cannot load .*garbage.pt.* as a TorchScript model"):
        benchmark(bad, **QUICK)


def test_torchscript_without_input_spec(tmp_path):
    path = tmp_path / "plain.pt"
    with quiet_torchscript():
        torch.jit.save(torch.jit.script(torch.nn.Linear(3, 3)), str(path))
    with pytest.raises(ValueError, match="stores no input spec"):
        benchmark(path, **QUICK)
    # Explicit inputs make it usable.
    assert benchmark(path, inputs=torch.randn(2, 3), **QUICK).requests == 5


def test_wrong_input_shape(linear_model):
    with pytest.raises(EngineError, match=r"linear.pt' failed on its inputs .*\[2,5\].*mat1 and mat2 shapes"):
        benchmark(linear_model, inputs=torch.randn(2, 5), **QUICK)


def test_wrong_input_dtype(linear_model):
    with pytest.raises(EngineError, match="failed on its inputs.*Long"):
        benchmark(linear_model, inputs=torch.ones(2, 16, dtype=torch.int64), **QUICK)


@pytest.mark.parametrize("device, message", [
    ("gpu:0", "device must be cpu or cuda:N, got 'gpu:0'"),
    ("tpu", "device must be cpu or cuda:N, got 'tpu'"),
    ("meta", "device must be cpu or cuda:N, got 'meta'"),
])
def test_unknown_device(linear_model, device, message):
    with pytest.raises(ValueError, match=message):
        benchmark(linear_model, device=device, **QUICK)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
def test_cuda_without_gpu(linear_model):
    with pytest.raises(ValueError, match="'cuda:0' is not available"):
        benchmark(linear_model, device="cuda:0", **QUICK)


@pytest.mark.parametrize("kwargs, message", [
    (dict(threads=0), "threads must be >= 1"),
    (dict(threads=-3), "threads must be >= 1"),
    (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(batch_size=-1), "batch_size must be >= 1"),
    (dict(requests=0), "requests must be >= 1"),
    (dict(duration=-1.0, requests=None), "duration must be > 0"),
    (dict(duration=None, requests=None), "give a duration, a request count, or both"),
    (dict(replicas="some"), "replicas must be one of per-thread, shared, per-thread-load, got 'some'"),
])
def test_bad_arguments(linear_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        benchmark(linear_model, **(QUICK | kwargs))


def test_batch_size_conflicting_with_explicit_inputs(linear_model):
    with pytest.raises(ValueError, match=r"batch_size 3 differs from the leading dimension of the explicit inputs \(2\)"):
        benchmark(linear_model, inputs=torch.randn(2, 16), batch_size=3, **QUICK)


def test_model_failing_mid_run_joins_threads_and_reports(tmp_path):
    class FailsOnThirdCall(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("calls", torch.zeros(1))

        def forward(self, x):
            self.calls += 1
            if bool(self.calls > 3):
                raise RuntimeError("model broke on purpose")
            return x

    path = save_torchscript(FailsOnThirdCall(), torch.randn(1, 2), tmp_path / "fails.pt", method="script")
    with pytest.raises(EngineError, match="fails.pt' failed while measuring: .*model broke on purpose"):
        benchmark(path, threads=2, replicas="shared", warmup=0.0, duration=2.0, calibrate=False)


def test_corrupt_export_facts_give_a_warning_not_broken_json(tmp_path, bench_binary):
    """A model file whose infermeter/export.json is not JSON: the result says so and stays valid JSON."""
    import json
    import subprocess

    from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, InputSpec, ModelInputs

    module = torch.jit.script(torch.nn.Linear(4, 2))
    path = tmp_path / "corrupt_facts.pt"
    spec = ModelInputs([InputSpec("x", (-1, 4))]).to_json()
    torch.jit.save(module, str(path), _extra_files={INPUT_SPEC_FILE: spec, EXPORT_INFO_FILE: "{not json"})
    r = benchmark(path, **(QUICK | {"requests": 10}))
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["model"]["export"] is None and "not a JSON object" in doc["model"]["export_warning"]
    assert "warning      the model's export facts" in r.summary()
    out = tmp_path / "r.json"
    proc = subprocess.run([str(bench_binary), str(path), "--requests", "10", "--warmup", "0", "--no-calibrate",
                           "--json", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["model"]["export"] is None


def test_a_window_too_small_for_the_run_is_refused(linear_model):
    with pytest.raises(ValueError, match=r"window 1e-07 s is too small|window 0.000000 s is too small"):
        benchmark(linear_model, **(QUICK | dict(window=1e-7, duration=1.0, requests=None)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(threads=5000), r"threads must be >= 1 and at most 1024 \(each holds a replica, .*\), got 5000"),
    (dict(threads=33, device="cuda:0"), "threads must be at most 32 on a CUDA device"),
    (dict(warmup=float("inf")), r"warmup must be >= 0 and at most 86400 s \(a day: .*\), got inf"),
    (dict(duration=float("inf"), requests=None), "duration must be > 0 and at most 86400 s"),
    (dict(window=1e12), "window must be > 0 and at most 86400 s"),
    (dict(intra_op_threads=100000), "intra_op_threads must be >= 1 and at most 1024"),
    (dict(batch_size=1 << 30), "batch_size must be >= 1 and at most 1048576"),
    (dict(ci=0.05, duration=0.5, min_duration=0.1, requests=None),
     r"ci needs a duration of at least 0\.6.* s \(6 windows of 0\.1.* s\) to estimate throughput's interval"),
])
def test_out_of_range_options_are_refused_by_name(linear_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        benchmark(linear_model, **(QUICK | kwargs))


def test_an_arrival_rate_so_low_its_second_arrival_is_never_still_ends(linear_model):
    # One arrival every 1e10 s: the second is past int64's nanoseconds, and reads as never.
    r = benchmark(linear_model, rate=1e-10, arrival="constant", warmup=0.0, duration=0.3, calibrate=False)
    assert r.requests == 1 and r.load_info["scheduled"] == 1


def test_a_document_missing_keys_gets_an_error_naming_the_key():
    from infermeter import _native
    with pytest.raises(RuntimeError, match="key 'config' not found"):
        _native.console_summary("{}")
    with pytest.raises(RuntimeError, match="key 'latency' not found"):
        _native.combine_repeats(['{"measurement": {"inferences_per_s": 1, "requests": 1, "elapsed_s": 1}}'],
                                "fresh processes")
