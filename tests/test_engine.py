"""The closed-loop engine: counts, timing and replicas are self-consistent."""

import json

import pytest
import torch

import infermeter
from infermeter import Result, benchmark
from infermeter.known_latency import batched_spin_model

QUICK = dict(warmup=0.2, calibrate=False)


def test_requests_limit_is_exact_and_counts_agree(tmp_path):
    # A batch of 3 takes 0.5 ms, so the run lasts about 125 ms: with requests
    # of microseconds the whole run lasts about a millisecond, and one worker
    # started late by the scheduler is a large share of it.
    spin_ns = 500_000
    model = batched_spin_model(tmp_path / "spin.pt", spin_ns, 0)
    r = benchmark(model, batch_size=3, threads=2, duration=None, requests=500, **QUICK)
    assert r.requests == 500
    assert r.histogram.get_total_count() == 500
    assert sum(r.completions) == 500
    assert r.to_dict()["measurement"]["inferences"] == 1500
    assert r.inferences_per_s == pytest.approx(3 * r.requests_per_s)
    # Each worker's completions over its own busy span (docs/design.md): the
    # one global span also holds the start and the drain, when fewer workers
    # are busy, so it can only read lower; no worker outruns the spin.
    assert 500 / r.elapsed_s <= r.requests_per_s <= 2 * 1e9 / spin_ns * 1.001
    assert r.requests_per_s >= 0.5 * 2 * 1e9 / spin_ns


def test_duration_is_honoured(matmul_model):
    r = benchmark(matmul_model, duration=0.8, **QUICK)
    # Measuring ends with the last request started before the deadline; the
    # stop is set by a thread the 2-core machine may wake a little late.
    assert 0.8 <= r.elapsed_s < 0.8 + 5 * r.latency.max / 1e3 + 0.2
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


# The weights each request reads, seen from inside the model: a Python op the
# engine's threads call through the dispatcher, recording the weight's storage.
_SEEN_WEIGHTS: set[int] = set()
_OPS = torch.library.Library("infermeter_test", "DEF")
_OPS.define("touch(Tensor w) -> Tensor")
_OPS.impl("touch", lambda w: (_SEEN_WEIGHTS.add(w.data_ptr()), w.clone())[1], "CompositeExplicitAutograd")


class ReadsItsWeight(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4))

    def forward(self, x):
        return x + torch.ops.infermeter_test.touch(self.weight)


@pytest.mark.parametrize("replicas, copies", [("per-thread", 3), ("shared", 1)])
def test_replicas_are_distinct_copies_or_one(tmp_path, replicas, copies):
    path = infermeter.save_torchscript(ReadsItsWeight(), torch.zeros(1, 4), tmp_path / "w.pt", method="script")
    _SEEN_WEIGHTS.clear()
    r = benchmark(path, threads=3, replicas=replicas, duration=None, requests=60, **QUICK)
    assert r.config["replicas"] == replicas and r.requests == 60
    # The probe request each worker runs first touches its replica too; the loaded module's own weight counts once.
    assert len(_SEEN_WEIGHTS) == copies


def test_cpu_threads_share_the_cores_and_oversubscription_is_warned(linear_model):
    import os

    cores = os.cpu_count()
    r = benchmark(linear_model, threads=1, duration=0.2, **QUICK)
    assert r.config["intra_op_threads"] == cores and r.warnings == []
    r = benchmark(linear_model, threads=2, duration=0.2, **QUICK)
    assert r.config["intra_op_threads"] == max(1, cores // 2) and r.warnings == []
    r = benchmark(linear_model, threads=2, intra_op_threads=cores, duration=0.2, **QUICK)
    assert r.config["intra_op_threads"] == cores
    assert r.warnings and f"= {2 * cores} compute threads on {cores} cores: they contend" in r.warnings[0]
    assert "warning      2 client threads" in r.summary()


def test_samples_above_an_hour_reach_the_summary():
    import json as json_module

    from infermeter import _native

    two_hours = 2 * 3600 * 10**9
    doc = json_module.loads(_native.result_from_timings({"duration": 1.0}, {"path": "m.pt"},
                                                        [[(0, 5_000_000), (0, two_hours)]], 1, {}))
    latency = Result(doc).latency
    assert latency.count == 2 and latency.saturated == 1 and latency.max == pytest.approx(3.6e6, rel=1e-3)
    assert "(1 above 1 h, clamped)" in Result(doc).summary()


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
    assert env["device"] == "cpu" and env["cpu_count"] >= 1 and env["front_end"] == "python"
    assert r.device_latency is None


def test_engine_error_is_a_runtime_error():
    assert issubclass(infermeter.EngineError, RuntimeError)
