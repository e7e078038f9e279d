"""The closed-loop engine: counts, timing and replicas are self-consistent."""

import json

import pytest
import torch

import infermeter
from infermeter import Result, benchmark

QUICK = dict(warmup=0.2, calibrate=False)


def test_requests_limit_is_exact_and_counts_agree(linear_model):
    r = benchmark(linear_model, batch_size=3, threads=2, duration=None, requests=500, **QUICK)
    assert r.requests == 500
    assert r.histogram.get_total_count() == 500
    assert sum(r.completions) == 500
    assert r.to_dict()["measurement"]["inferences"] == 1500
    assert r.inferences_per_s == pytest.approx(3 * r.requests_per_s)
    # Each worker's completions over its own busy span (docs/design.md): the
    # one global span also holds the start and the drain, when fewer workers
    # are busy, so it can only read lower.
    assert 500 / r.elapsed_s <= r.requests_per_s <= 1.1 * 500 / r.elapsed_s


def test_closed_loop_littles_law(matmul_model):
    # In a closed loop each thread always has one request in flight, so
    # throughput x mean latency equals the thread count.
    for threads in (1, 2):
        r = benchmark(matmul_model, threads=threads, duration=1.0, **QUICK)
        in_flight = r.requests_per_s * r.latency.mean / 1e3
        assert in_flight == pytest.approx(threads, rel=0.1), (threads, in_flight)


def test_duration_is_honoured(matmul_model):
    r = benchmark(matmul_model, duration=0.8, **QUICK)
    # Measuring ends with the last request started before the deadline.
    assert 0.8 <= r.elapsed_s < 0.8 + 5 * r.latency.max / 1e3 + 0.05
    assert len(r.completions) == pytest.approx(8, abs=1)
    assert sum(r.completions) == r.requests


def test_warmup_requests_are_excluded(matmul_model):
    r = benchmark(matmul_model, warmup=0.0, duration=None, requests=30, calibrate=False)
    assert r.warmup_requests == 0 and r.requests == 30
    r = benchmark(matmul_model, warmup=0.3, warmup_min_requests=5, duration=None, requests=30, calibrate=False)
    assert r.requests == 30 and r.histogram.get_total_count() == 30
    # 0.3 s at about a millisecond a request.
    assert r.warmup_requests >= 5


def test_warmup_waits_for_every_thread(matmul_model):
    r = benchmark(matmul_model, threads=3, warmup=0.01, warmup_min_requests=4, duration=None, requests=10,
                  calibrate=False)
    assert r.warmup_requests >= 12


@pytest.mark.parametrize("threads", [1, 2, 3, 4, 8])
def test_thread_counts(linear_model, threads):
    r = benchmark(linear_model, threads=threads, duration=0.3, **QUICK)
    assert r.config["threads"] == threads
    assert r.requests > threads
    assert r.latency.p50 > 0


@pytest.mark.parametrize("replicas", ["per-thread", "shared"])
def test_replica_modes(matmul_model, replicas):
    r = benchmark(matmul_model, threads=2, replicas=replicas, duration=0.4, **QUICK)
    assert r.config["replicas"] == replicas
    assert r.requests > 0


def test_explicit_inputs_and_module_input(matmul_model):
    class Double(torch.nn.Module):
        def forward(self, x, y):
            return x * 2 + y

    r = benchmark(Double(), inputs=(torch.randn(5, 7), torch.randn(5, 7)), duration=None, requests=50, **QUICK)
    assert r.config["batch_size"] == 5 and r.config["explicit_inputs"]
    assert [i["shape"] for i in r.model["inputs"]] == [[5, 7], [5, 7]]
    r = benchmark(matmul_model, inputs=torch.randn(6, 192), duration=None, requests=20, **QUICK)
    assert r.config["batch_size"] == 6


def test_stored_spec_sets_batch_dimension(linear_model):
    r = benchmark(linear_model, batch_size=7, duration=None, requests=10, **QUICK)
    assert r.model["inputs"] == [{"name": "x", "shape": [7, 16], "dtype": "Float"}]
    assert r.model["export"]["method"] == "trace"


def test_result_round_trips_through_json(linear_model, tmp_path):
    r = benchmark(linear_model, threads=2, duration=0.3, warmup=0.1)
    again = Result.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.to_dict() == r.to_dict()
    assert again.latency == r.latency
    assert again.histogram.get_total_count() == r.requests
    assert again.histogram.get_value_at_percentile(99) == r.to_dict()["latency"]["host"]["p99_ns"]
    r.save(tmp_path / "r.json")
    assert Result.load(tmp_path / "r.json").to_dict() == r.to_dict()


def test_result_carries_calibration_and_environment(noop_model):
    r = benchmark(noop_model, duration=0.2, warmup=0.1)
    cal = r.calibration
    assert 0 < cal["clock_read_ns"] < 1_000
    assert 0 < cal["histogram_record_ns"] < 1_000
    # The floor of one request's harness cost: a whole engine request to a no-op module, median.
    assert cal["clock_read_ns"] < cal["request_floor_ns"] < 100_000
    assert cal["request_floor_runner"] == "torchscript"
    env = r.environment
    assert env["torch_version"] == torch.__version__.split("+")[0]
    assert env["device"] == "cpu" and env["cpu_count"] >= 1 and env["runner"] == "python"
    assert r.device_latency is None


def test_engine_error_is_a_runtime_error():
    assert issubclass(infermeter.EngineError, RuntimeError)
