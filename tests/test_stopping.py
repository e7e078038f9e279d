"""Stopping when the answer is known, against models of known latency: the
statistical rule converges on a steady model near its true figures and
reports non-convergence on a drifting one; every result carries intervals;
percentiles the sample count cannot support are null with the reason; a run
with no measured request is a clear outcome that every reader survives."""

from __future__ import annotations

import os

import pytest
import torch

import infermeter
from infermeter import load_results
from infermeter.analysis import recommend
from infermeter.compare import compare
from infermeter.report import write_report
from steady_rate import holds_known_rate
from sweep_helpers import write_records
from infermeter.known_latency import Spin

SPIN_NS = 1_000_000


class Drifts(torch.nn.Module):
    """Each call takes 2 µs longer than the last: it never settles."""

    def __init__(self, ns: int, step_ns: int):
        super().__init__()
        self.ns, self.step_ns = ns, step_ns
        self.register_buffer("calls", torch.zeros(1, dtype=torch.int64))

    def forward(self, x):
        self.calls += 1
        return torch.ops.infermeter.spin(x, self.ns + self.step_ns * int(self.calls))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stopping")
    save = lambda m, name: infermeter.save_torchscript(m, torch.zeros(1), folder / name, method="script")  # noqa: E731
    return {"steady": save(Spin(SPIN_NS), "steady.pt"), "drift": save(Drifts(SPIN_NS, 2_000), "drift.pt"),
            "slow": save(Spin(400_000_000), "slow.pt")}


def test_converges_on_a_steady_model_at_its_true_figures(models):
    r = infermeter.benchmark(models["steady"], inputs=torch.zeros(1), ci=0.02, ci_percentile=99, duration=20,
                             warmup=0.2, calibrate=False)
    doc = r.to_dict()["measurement"]
    rule = doc["stop"]["rule"]
    held_ms = r.latency.max - SPIN_NS / 1e6
    if not rule["converged"] and held_ms >= 1.0:
        # A steady model on a machine that is not: a VM that holds a 1 ms spin up by a millisecond or more (steal
        # time) makes its windows and its tail wander, and then non-convergence is the right answer.
        pytest.skip(f"the machine is busy: a request was held up {held_ms:.1f} ms beyond its 1 ms spin (load "
                    f"average {os.getloadavg()[0]:.1f}); the rule said: {doc['stop']['reason']}")
    assert rule["rule"] == "ci" and rule["converged"] is True and rule["requests_needed"] is None
    assert doc["stop"]["reason"].startswith("converged: throughput +-")
    assert rule["at_stop"]["throughput_half_width_rel"] <= 0.02 and rule["at_stop"]["percentile_half_width_rel"] <= 0.02
    assert 1.0 <= r.elapsed_s < 20  # the minimum duration, and well before the maximum
    ci = doc["throughput_ci"]
    if r.latency.mean * 1e6 > 1.01 * SPIN_NS:
        pytest.skip(f"the machine is busy (load average {os.getloadavg()[0]:.1f}): the spin ran long")
    # Ground truth: one client, 1 ms a request. Time lost between requests
    # (the client preempted) shows in no latency, and lowers the whole run's
    # rate; it spoils only the windows it falls in, so the median window
    # holds to the known figure, and no figure exceeds it.
    assert ci["lo_inferences_per_s"] <= r.inferences_per_s <= ci["hi_inferences_per_s"]
    assert r.inferences_per_s <= 1e9 / SPIN_NS * 1.001
    assert holds_known_rate(r, SPIN_NS, threads=1), r.completions
    lo, hi = r.to_dict()["latency"]["host"]["intervals"]["p99_ns"]
    p99 = r.to_dict()["latency"]["host"]["p99_ns"]
    # The rule judged the requests handed over by its last check (within 2%, asserted above); the
    # result's interval also holds the requests completed after it, so one side can move by a bucket
    # or two of HdrHistogram's 0.1% (2.10% seen in CI), never far.
    assert lo <= p99 <= hi
    widest = max(hi - p99, p99 - lo) / p99
    if widest > 0.03 and held_ms >= 1.0:
        pytest.skip(f"the machine is busy: a request was held up {held_ms:.1f} ms, and the tail moved after the "
                    f"rule's last check (p99 interval side {widest:.1%})")
    assert widest <= 0.03


def test_a_drifting_model_does_not_converge_and_says_how_much_more_it_needs(models):
    r = infermeter.benchmark(models["drift"], inputs=torch.zeros(1), ci=0.005, ci_percentile=50, min_duration=0.5,
                             duration=2.0, warmup=0.0, warmup_min_requests=0, calibrate=False)
    stop = r.to_dict()["measurement"]["stop"]
    assert stop["rule"]["converged"] is False
    assert stop["reason"].startswith("maximum duration reached before converging")
    assert r.elapsed_s == pytest.approx(2.0, abs=0.2)
    assert stop["rule"]["requests_needed"] > r.requests
    assert "maximum duration reached before converging" in r.summary()


def test_statistical_stop_options_are_checked(models):
    for kwargs, message in ((dict(ci=0.0), r"ci must be > 0 and < 1 \(a relative half width\), got 0"),
                            (dict(ci=2.0), r"ci must be > 0 and < 1 \(a relative half width\), got 2"),
                            (dict(ci=0.02, ci_percentile=100), "ci_percentile must be > 0 and < 100"),
                            (dict(ci=0.02, min_duration=30, duration=10), "min_duration must be between 0 and the")):
        with pytest.raises(ValueError, match=message):
            infermeter.benchmark(models["steady"], calibrate=False, **kwargs)


def test_percentiles_without_enough_samples_are_null_with_the_reason(models):
    r = infermeter.benchmark(models["steady"], inputs=torch.zeros(1), duration=None, requests=40, warmup=0.0,
                             calibrate=False)
    host = r.to_dict()["latency"]["host"]
    assert host["p50_ns"] is not None and host["p90_ns"] is not None  # 5 and 29 samples suffice
    assert host["p95_ns"] is None and host["p99_ns"] is None and host["p99_9_ns"] is None
    assert host["unsupported"]["p99_ns"] == "needs at least 299 samples, has 40"
    assert "p99 -" in r.summary() and "p95 needs at least 59 samples, has 40" in r.summary()
    lo, hi = host["intervals"]["p50_ns"]
    assert lo <= host["p50_ns"] <= hi
    assert r.to_dict()["measurement"]["throughput_ci"]["reason"].startswith("needs at least 7 completion windows")


def test_no_samples_is_an_outcome_every_reader_survives(models, tmp_path):
    # Measuring begins while the warm-up request (400 ms) is in flight and ends 50 ms later: none is measured.
    slow = infermeter.benchmark(models["slow"], inputs=torch.zeros(1), duration=0.05, warmup=0.01,
                                warmup_min_requests=0, calibrate=False)
    assert slow.outcome == "no_samples" and slow.latency is None and slow.histogram is None
    assert "one request takes longer than the run allows" in slow.to_dict()["measurement"]["no_samples_cause"]
    assert "no samples: no measured request completed" in slow.summary()
    ok = infermeter.benchmark(models["steady"], inputs=torch.zeros(1), duration=0.5, warmup=0.0, calibrate=False)
    records = []
    for batch, result in ((1, ok), (2, slow)):
        record = {"schema": "infermeter.sweep-record/1", "key": f"spin||fp32|t1|b{batch}", "series": "spin||fp32|t1",
                  "point": {"model": "spin", "variant": {}, "precision": "fp32", "batch_size": batch, "threads": 1},
                  "sweep": {"name": "t", "settings": {"device": "cpu", "sla": "p50<5ms"}},
                  "instance": "c5.large", "status": "ok", "error": None, "result": result.to_dict()}
        records.append(record)
    path = write_records(tmp_path / "r.jsonl", records)
    frame = load_results(path)
    assert len(frame) == 2
    report = write_report(frame, tmp_path / "report")
    assert report.html.is_file()
    assert "spin" in str(recommend(frame, "p50<5ms"))
    assert not compare(frame, frame).empty
