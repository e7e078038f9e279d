"""The dynamic-batching predictor against ground truth that is not its own:
steady states derived by hand for deterministic service and constant
arrivals, queueing theory (M/D/1's Pollaczek-Khinchine mean wait, M/M/2's
Erlang C), and service times read from real runs of a model whose batch
takes a known time (`batched_spin_model`: a + b x size)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import infermeter
from infermeter.cli import main
from infermeter.known_latency import batched_spin_model
from infermeter.predict import ServiceTimes, highest_rate, service_times_from_results, simulate
from infermeter.sweep.grid import Point
from infermeter.sweep.store import RECORD_SCHEMA


def linear(a_ms: float, b_ms: float, instances: int = 1) -> ServiceTimes:
    """A batch of `size` takes exactly a + b x size."""
    return ServiceTimes.deterministic(lambda size: (a_ms + b_ms * size) / 1e3, instances=instances)


def constant(service: ServiceTimes, **config):
    return simulate(service, arrival="constant", **{"requests": 20_000} | config)


# Steady states derived by hand. Arrivals every 1 ms, from t=0.

def test_busy_instance_alternates_into_pairs():
    """Service 1.2 + 0.4 x size ms, max_batch 4, no delay. r0 goes alone at 0
    (done 1.6), r1 alone at 1.6 (done 3.2); at 3.2, r2 and r3 (arrived at 2
    and 3) are queued and go as a pair (2.0 ms, done 5.2), and so on: every
    batch from then is the pair that arrived at 2k+2 and 2k+3, dispatched at
    2k+3.2 and done at 2k+5.2. Their responses are 3.2 and 2.2 ms, their
    waits 1.2 and 0.2 ms."""
    p = constant(linear(1.2, 0.4), rate=1000, max_batch=4, max_queue_delay=0)
    assert p.batch_size_counts == {1: 2, 2: 9_999}
    assert p.mean_batch_items == pytest.approx(20_000 / 10_001)
    # Sorted responses: 1.6 (r0), 2.2 x 10000 (r1 and the pairs' second), 3.2 x 9999.
    assert p.p50_ms == pytest.approx(2.2) and p.p90_ms == pytest.approx(3.2) and p.p99_ms == pytest.approx(3.2)
    assert p.mean_ms == pytest.approx((1.6 + 2.2 * 10_000 + 3.2 * 9_999) / 20_000)
    assert p.queue_wait_p50_ms == pytest.approx(0.2) and p.queue_wait_p99_ms == pytest.approx(1.2)
    assert p.sustained and p.served_fraction == 1.0 and p.achieved_rate_per_s == pytest.approx(1000, rel=1e-3)


def test_long_delay_waits_for_full_batches():
    """max_batch 4 and a delay far longer than a batch takes to fill: each
    batch goes when its 4th request arrives (at 4k+3), and takes 1 + 0.5 x 4
    = 3 ms, done before the next batch fills. Request 4k+j (j = 0..3) waits
    3-j ms and is answered after 6-j ms."""
    p = constant(linear(1.0, 0.5), rate=1000, max_batch=4, max_queue_delay=0.1)
    assert p.batch_size_counts == {4: 5_000} and p.mean_batch_items == 4
    assert (p.p50_ms, p.p99_ms, p.mean_ms) == pytest.approx((4.0, 6.0, 4.5))
    assert (p.queue_wait_p50_ms, p.queue_wait_p99_ms) == pytest.approx((1.0, 3.0))


def test_two_instances_take_requests_in_turn():
    """1.5 ms per request, one every ms, two instances: the instance free
    first holds the batcher and takes each request as it arrives, the other
    being free again by the time the next one comes. Nothing waits."""
    p = constant(linear(1.5, 0, instances=2), rate=1000, max_batch=4, max_queue_delay=0)
    assert p.batch_size_counts == {1: 20_000}
    assert (p.p50_ms, p.p99_ms, p.queue_wait_p99_ms) == pytest.approx((1.5, 1.5, 0.0))


def test_delay_rule_sends_a_lone_request_after_its_delay():
    """A request every 100 ms, max_batch 8, delay 2 ms: no batch ever fills,
    so each request waits exactly the delay, then goes alone."""
    p = constant(linear(1.0, 0), rate=10, max_batch=8, max_queue_delay=0.002, requests=2_000)
    assert p.batch_size_counts == {1: 2_000}
    assert (p.queue_wait_p50_ms, p.queue_wait_p99_ms, p.p99_ms) == pytest.approx((2.0, 2.0, 3.0))


def test_preferred_size_goes_before_max_batch():
    """Preferred 4 of max_batch 8, a long delay: a batch goes when the 4th
    request arrives instead of waiting for 8 (0.9 ms each, done before the
    next fills): waits 3..0 ms, responses 3.9..0.9 ms."""
    service = linear(0.5, 0.1)
    p = constant(service, rate=1000, max_batch=8, max_queue_delay=0.1, preferred_batches=(4,))
    assert p.batch_size_counts == {4: 5_000}
    assert (p.p99_ms, p.queue_wait_p99_ms, p.queue_wait_p50_ms) == pytest.approx((3.9, 3.0, 1.0))
    without = constant(service, rate=1000, max_batch=8, max_queue_delay=0.1)
    assert without.batch_size_counts == {8: 2_500}


def test_largest_preferred_size_the_queue_reaches():
    """3.7 ms per batch whatever its size, preferred_batches 2 and 4, max_batch 8, a
    long delay. The first batch goes at 1 ms with 2 requests; from then the
    instance is always busy and finds 3, 4 or 5 queued (1 left over at most,
    plus the 3 or 4 that arrived in 3.7 ms), so it takes 2 (of 3) or 4 (of 4
    or 5), never 3, 5 or 8. Always busy, it serves 3.7 requests per batch on
    average: a share x of pairs with 2x + 4(1-x) = 3.7, x = 0.15."""
    p = constant(linear(3.7, 0), rate=1000, max_batch=8, max_queue_delay=0.1, preferred_batches=(2, 4))
    assert set(p.batch_size_counts) == {2, 4}
    assert p.mean_batch_items == pytest.approx(3.7, abs=2e-3)
    assert p.batch_size_counts[2] / sum(p.batch_size_counts.values()) == pytest.approx(0.15, abs=1e-3)


def test_capture_sizes_pad_batches():
    """2.6 ms per batch whatever its size, no delay, captured sizes 1, 2, 4,
    8. After the first request the instance is always busy, and each batch
    holds what arrived while the last one ran: 2 or 3 requests, 2.6 on
    average, so 40% pairs and 60% triples. A triple runs at 4: padding =
    0.6 / (0.4 x 2 + 0.6 x 4) = 0.1875."""
    p = constant(linear(2.6, 0), rate=1000, max_batch=8, max_queue_delay=0, capture_batches=(1, 2, 4, 8))
    assert set(p.batch_size_counts) == {1, 2, 3} and p.batch_size_counts[1] == 1
    assert p.mean_batch_items == pytest.approx(2.6, abs=1e-3)
    assert p.padding_fraction == pytest.approx(0.1875, abs=1e-3)
    assert constant(linear(2.6, 0), rate=1000, max_batch=8, max_queue_delay=0).padding_fraction == 0


def test_request_batch_counts_items():
    """Requests of 2 items, max_batch 4, a long delay: a batch is full with
    2 requests, goes when the second arrives (at 2k+1) and takes 0.5 + 0.25
    x 4 = 1.5 ms: the first of each pair is answered after 2.5 ms, the
    second after 1.5 ms."""
    p = constant(linear(0.5, 0.25), rate=1000, max_batch=4, max_queue_delay=0.1, batch_size=2)
    assert p.batch_size_counts == {4: 10_000} and p.mean_batch_items == 4
    assert (p.p50_ms, p.p99_ms, p.queue_wait_p99_ms) == pytest.approx((1.5, 2.5, 1.0))


# Queueing theory: max_batch 1 makes the batcher an ordinary FIFO queue.

@pytest.mark.parametrize("rho, requests", [(0.5, 400_000), (0.8, 1_000_000)])
def test_md1_mean_wait_is_pollaczek_khinchine(rho, requests):
    service_ms = 1.0
    p = simulate(linear(service_ms, 0), rate=rho / service_ms * 1e3, max_batch=1, max_queue_delay=0,
                 requests=requests)
    expected = rho * service_ms / (2 * (1 - rho))
    assert p.mean_ms - service_ms == pytest.approx(expected, rel=0.03)


def erlang_c_mean_wait(rate: float, service: float, servers: int) -> float:
    offered = rate * service
    queued = offered**servers / math.factorial(servers) / (1 - offered / servers)
    waits = queued / (sum(offered**k / math.factorial(k) for k in range(servers)) + queued)
    return waits / (servers / service - rate)


def test_mm2_mean_wait_is_erlang_c():
    service_s, rho = 1e-3, 0.7
    draws = np.random.default_rng(123).exponential(service_s, 400_000)
    service = ServiceTimes.from_samples({1: draws}, instances=2)
    rate = rho * 2 / service_s
    p = simulate(service, rate=rate, max_batch=1, max_queue_delay=0, requests=500_000)
    assert (p.mean_ms - draws.mean() * 1e3) == pytest.approx(erlang_c_mean_wait(rate, service_s, 2) * 1e3, rel=0.05)


# The rate search.

def test_highest_rate_of_one_server_is_its_capacity():
    """1 ms per request, constant arrivals: every rate up to 1000/s is
    answered in 1 ms; above it the queue grows."""
    rate, p = highest_rate(linear(1.0, 0), sla="p99<1.5ms", max_batch=1, max_queue_delay=0, arrival="constant")
    assert 990 <= rate <= 1000 and p.sustained and p.p99_ms == pytest.approx(1.0)


def test_highest_rate_is_found_above_rates_that_wait_out_the_delay():
    """max_batch 8, delay 5 ms, 1 + 0.1 x size ms. A low rate waits the 5 ms
    delay out for most batches; with constant arrivals a rate r fills batches
    of 8 in 8/r and answers the first of each after 7/r + 1.8 ms, within 4 ms
    from r = 3182/s up to the capacity, 8 per 1.8 ms = 4444/s. With Poisson
    arrivals p95 < 5 ms holds only on a band of rates below capacity, where a
    search bisecting up from 0 would not find it."""
    service = linear(1.0, 0.1)
    config = {"max_batch": 8, "max_queue_delay": 0.005, "requests": 20_000}
    assert highest_rate(service, sla="p99<4ms", arrival="constant", **config)[0] == pytest.approx(8 / 1.8e-3)
    assert simulate(service, rate=3000, arrival="constant", **config).p99_ms == pytest.approx(7 / 3 + 1.8)
    assert simulate(service, rate=3100, arrival="constant", **config).p99_ms > 4
    rate, p = highest_rate(service, sla="p95<5ms", **config)
    assert 2000 < rate < 4444 and p.p95_ms < 5 and p.sustained
    assert simulate(service, rate=rate * 1.03, **config).p95_ms >= 5
    assert simulate(service, rate=500, **config).p95_ms >= 5


def test_highest_rate_is_zero_when_no_rate_meets():
    rate, p = highest_rate(linear(1.0, 0), sla="p50<0.5ms", max_batch=1, max_queue_delay=0, requests=1_000)
    assert rate == 0 and p.p50_ms == pytest.approx(1.0)


# The simulation's own properties.

def test_overload_is_not_sustained_and_says_so():
    p = simulate(linear(1.0, 0), rate=2000, max_batch=1, max_queue_delay=0, requests=20_000)
    assert not p.sustained and p.served_fraction == pytest.approx(0.5, abs=0.01)
    assert p.achieved_rate_per_s == pytest.approx(1000, rel=0.01)
    assert any("not sustained" in note for note in p.notes)


def test_same_seed_same_prediction():
    service = ServiceTimes.from_samples({1: [1e-3, 2e-3], 8: [3e-3, 5e-3]}, instances=1)
    config = {"rate": 1500, "max_batch": 8, "max_queue_delay": 0.001, "requests": 20_000}
    assert simulate(service, **config) == simulate(service, **config)
    assert simulate(service, **config) != simulate(service, **config, seed=1)


def test_other_instance_count_is_noted():
    p = simulate(linear(1.0, 0), rate=100, max_batch=1, max_queue_delay=0, instances=2,
                 allow_other_instances=True, requests=1_000)
    assert any("contention differs" in note for note in p.notes)


def test_unmeasured_sizes_interpolate_at_each_quantile():
    service = ServiceTimes.from_samples({2: [2e-3, 4e-3], 5: [5e-3, 10e-3]}, instances=1)
    low, high = [0.2], [0.8]
    assert service.quantile(3, low)[0] == pytest.approx(3e-3) and service.quantile(3, high)[0] == pytest.approx(6e-3)
    assert service.quantile(1, high)[0] == pytest.approx(4e-3)  # below the smallest: the smallest's
    with pytest.raises(ValueError, match=r"above the largest measured \(5; measured: 2, 5\)"):
        service.quantile(6, low)
    with pytest.raises(ValueError, match="extrapolation"):
        simulate(service, rate=100, max_batch=8, max_queue_delay=0)
    with pytest.raises(ValueError, match="extrapolation"):  # a captured size above the measured ones
        simulate(service, rate=100, max_batch=5, max_queue_delay=0, capture_batches=(4, 8))
    p = simulate(service, rate=300, max_batch=5, max_queue_delay=0.001, requests=1_000)
    unmeasured = sorted(set(p.batch_size_counts) - {2, 5})
    assert len(unmeasured) > 1 and p.notes == [f"batch sizes {', '.join(map(str, unmeasured))} were not measured: "
                                               "service times interpolated between (or, below, taken from) the "
                                               "measured sizes 2, 5"]


@pytest.mark.parametrize("change, message", [
    ({"rate": 0}, "rate must be"),
    ({"rate": float("nan")}, "rate must be"),
    ({"max_batch": 0}, "max_batch must be"),
    ({"max_batch": 2, "batch_size": 4}, "batch_size .4 items per request. exceeds max_batch .2."),
    ({"batch_size": 0}, "batch_size must be"),
    ({"max_queue_delay": -0.001}, "max_queue_delay must be"),
    ({"max_queue_delay": float("inf")}, "max_queue_delay must be"),
    ({"preferred_batches": (0,)}, "preferred_batches must be"),
    ({"preferred_batches": (16,)}, "preferred_batches: 16 must be"),
    ({"preferred_batches": (3,), "batch_size": 2}, "preferred_batches: 3 must be a whole number of requests"),
    ({"preferred_batches": (4, 4)}, "preferred_batches names a size twice"),
    ({"preferred_batches": "4,8"}, "preferred_batches must be a sequence"),
    ({"capture_batches": (1, 2, 4)}, "capture_batches must reach max_batch"),
    ({"arrival": "uniform"}, "arrival must be one of"),
    ({"instances": 2}, "instances=2, but the service times were measured with 1"),
    ({"instances": 0}, "instances must be"),
    ({"requests": 0}, "requests must be"),
    ({"seed": -1}, "seed must be"),
])
def test_bad_arguments_are_named(change, message):
    config = {"rate": 100, "max_batch": 8, "max_queue_delay": 0} | change
    with pytest.raises(ValueError, match=message):
        simulate(linear(1.0, 0.1), **config)


@pytest.mark.parametrize("change, message", [
    ({"sla": "p95 under 10ms"}, "not of the form"),
    ({"precision": 0}, "precision must be"),
    ({"rate": 100}, "leave out rate"),
])
def test_bad_search_arguments_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        highest_rate(linear(1.0, 0), **{"sla": "p95<10ms", "max_batch": 1, "max_queue_delay": 0} | change)


def test_bad_service_times_are_named():
    with pytest.raises(ValueError, match="batch size 4 must be positive"):
        ServiceTimes.from_samples({4: [1e-3, -1e-3]}, instances=1)
    with pytest.raises(ValueError, match="service time of batch size 1 must be positive"):
        simulate(ServiceTimes.deterministic(lambda size: 0.0, instances=1), rate=10, max_batch=1, max_queue_delay=0)
    with pytest.raises(ValueError, match="service must be a ServiceTimes"):
        simulate({1: [1e-3]}, rate=10, max_batch=1, max_queue_delay=0)


# Service times from real runs of a model whose batch spins a known time.

SPIN_A_NS, SPIN_B_NS = 200_000, 100_000


@pytest.fixture(scope="module")
def spin_results(tmp_path_factory):
    """Closed-loop runs of one spin model at batch 1 and 4, saved as files."""
    folder = tmp_path_factory.mktemp("predict")
    model = batched_spin_model(folder / "spin.pt", SPIN_A_NS, SPIN_B_NS)
    paths = []
    for batch in (1, 4):
        result = infermeter.benchmark(model, duration=0.3, warmup=0, calibrate=False, batch_size=batch)
        paths.append(folder / f"b{batch}.json")
        result.save(paths[-1])
    return paths


def test_service_times_of_a_spin_are_its_spin(spin_results):
    service = service_times_from_results(spin_results)
    assert service.sizes == (1, 4) and service.instances == 1 and service.source["runner"] == "torchscript"
    for size in (1, 2, 4):  # 2 interpolated, exact for a line
        assert float(service.quantile(size, 0.5)[0]) == pytest.approx((SPIN_A_NS + SPIN_B_NS * size) / 1e9, rel=0.05)


def _record(key: str, doc: dict, status: str = "ok") -> dict:
    """A sweep record of `doc` as the sweep writes it (the results reader checks its form)."""
    point = Point(doc["model"]["path"], (), "fp32", doc["config"]["batch_size"], 1)
    return {"schema": RECORD_SCHEMA, "key": key, "series": point.series, "point": point.to_dict(),
            "sweep": {"name": "constructed", "settings": {"device": "cpu"}}, "instance": None, "status": status,
            "error": None if status == "ok" else "out of memory", "result": doc if status == "ok" else None}


def test_sweep_results_keep_closed_loop_points(spin_results, tmp_path):
    b1, b4 = (json.loads(p.read_text()) for p in spin_results)
    opened = b1 | {"config": b1["config"] | {"load": "open", "batch_size": 16}}
    lines = [_record("b1", b1), _record("b4", b4), _record("open", opened), _record("b32", b4, status="oom")]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert service_times_from_results(tmp_path).sizes == (1, 4)
    (tmp_path / "open.json").write_text(json.dumps(opened))
    with pytest.raises(ValueError, match="open-loop run: service times come from closed-loop runs"):
        service_times_from_results([spin_results[0], tmp_path / "open.json"])


@pytest.mark.parametrize("section, key, value, message", [
    ("config", "threads", 2, "threads 1, 2"),
    ("model", "path", "/elsewhere/other.pt", "model path"),
    ("config", "runner", "cuda-graph", "runner cuda-graph, torchscript"),
])
def test_mixed_measurements_are_refused(spin_results, tmp_path, section, key, value, message):
    doc = json.loads(spin_results[1].read_text())
    doc[section][key] = value
    (tmp_path / "other.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=f"the results mix {message}"):
        service_times_from_results([spin_results[0], tmp_path / "other.json"])


def test_cli_predicts_rows_and_searches(spin_results, tmp_path, capsys):
    files = [str(p) for p in spin_results]
    out = tmp_path / "predictions.json"
    assert main(["predict", *files, "--rate", "500,1000", "--max-batch", "1,4", "--max-queue-delay", "0.001",
                 "--sla", "p99<50ms", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sizes 1, 4" in text and len([line for line in text.splitlines() if line.endswith("yes")]) == 4
    docs = json.loads(out.read_text())
    assert [(d["rate_per_s"], d["max_batch"]) for d in docs] == [(500, 1), (500, 4), (1000, 1), (1000, 4)]
    assert main(["predict", *files, "--max-batch", "4", "--sla", "p99<50ms", "--requests", "20000"]) == 0
    assert "highest rate meeting p99<50ms" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--rate", "100", "--max-batch", "8"], "above the largest measured"),
    (["--rate", "fast"], "--rate must be comma-separated numbers"),
    (["--max-batch", "4"], "give --rate, or --sla"),
    (["--rate", "100", "--threads", "2"], "instances=2"),
])
def test_cli_bad_input_is_one_line_and_status_2(spin_results, capsys, args, message):
    assert main(["predict", *map(str, spin_results), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infermeter: ") and message in err and "Traceback" not in err
