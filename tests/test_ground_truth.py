"""The engine's numbers against ground truth: a model whose only work is
`torch.ops.infermeter.spin(x, ns)`, a busy-wait of exactly `ns` nanoseconds
on the engine's own clock (csrc/spin_op.cpp). Its latency is known, so the
reported p50 must match it to within the harness's cost, and a closed loop of
N clients must complete N / latency requests per second."""

from __future__ import annotations

import os
import time

import pytest
import torch

import infermeter  # registers torch.ops.infermeter.* from its extension
from infermeter import known_latency
from steady_rate import holds_known_rate, steady_rate


@pytest.fixture(scope="module")
def spin_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spin")
    return lambda ns: known_latency.spin_model(folder / f"spin_{ns}.pt", ns)


@pytest.mark.parametrize("ns", [10_000, 100_000, 1_000_000])
def test_spin_never_returns_early(ns):
    x = torch.zeros(1)
    for _ in range(20):
        start = time.perf_counter_ns()
        assert torch.ops.infermeter.spin(x, ns) is x
        assert time.perf_counter_ns() - start >= ns


def test_spin_rejects_a_negative_time():
    with pytest.raises(RuntimeError, match="ns must be >= 0"):
        torch.ops.infermeter.spin(torch.zeros(1), -1)


@pytest.mark.parametrize("ns", [10_000, 100_000, 1_000_000])
def test_reported_p50_is_the_spin_time(spin_model, ns):
    """Noise (a neighbour's cache traffic, steal time) can only raise the
    median, so the lowest of up to three runs is held to the op's time."""
    def p50_ns():
        result = infermeter.benchmark(spin_model(ns), inputs=torch.zeros(1), threads=1, warmup=0.2, duration=1.0)
        return result.latency.p50 * 1e6

    bound = max(0.02 * ns, 2_000)
    medians = [p50_ns()]
    while len(medians) < 3 and medians[-1] - ns > bound:
        medians.append(p50_ns())
    # The engine may only add its own cost (about a microsecond: the clock
    # reads and the interpreter's call into the op), never report less.
    assert all(m >= ns for m in medians), f"p50s {[round(m) for m in medians]} ns: below the {ns} ns the op takes"
    assert min(medians) - ns <= bound, f"p50s {[round(m) for m in medians]} ns for a {ns} ns op"


THROUGHPUT_SPIN_NS = 1_000_000


@pytest.fixture(scope="module")
def closed_loop_runs(spin_model):
    """One run per client count, shared by the throughput tests."""
    path = spin_model(THROUGHPUT_SPIN_NS)
    return {threads: infermeter.benchmark(path, inputs=torch.zeros(1), threads=threads, warmup=0.2, duration=1.5)
            for threads in (1, 2)}


@pytest.mark.parametrize("threads", [1, 2])
def test_no_client_completes_faster_than_the_op_allows(closed_loop_runs, threads):
    """However busy the machine, each client's requests take at least the
    spin: throughput can only fall short of threads / spin time."""
    result = closed_loop_runs[threads]
    assert result.requests_per_s <= threads * 1e9 / THROUGHPUT_SPIN_NS * 1.001


@pytest.mark.parametrize("threads", [1, 2])
def test_throughput_is_threads_over_spin_time(closed_loop_runs, spin_model, threads):
    """Each window's count against the known figure. A client preempted
    between two requests (on a 2-core machine, by pytest or a neighbour)
    loses time no latency records, and lowers the whole run's rate (the test
    above bounds that from above); it spoils only the windows it falls in,
    so the median window holds to threads / spin time. Noise can only lower
    it, so the best of up to three runs is the one held to the figure."""
    runs = [closed_loop_runs[threads]]
    while len(runs) < 3 and not holds_known_rate(runs[-1], THROUGHPUT_SPIN_NS, threads):
        runs.append(infermeter.benchmark(spin_model(THROUGHPUT_SPIN_NS), inputs=torch.zeros(1), threads=threads,
                                         warmup=0.2, duration=1.5))
    best = max(runs, key=steady_rate)
    mean_ns = best.latency.mean * 1e6
    if mean_ns > 1.01 * THROUGHPUT_SPIN_NS:
        # Only the scheduler can stretch a busy-wait by this much: other
        # processes took this run's cores, so the op's known time says nothing
        # about its throughput (Little's law above still holds).
        pytest.skip(f"the machine is busy: mean latency {mean_ns:.0f} ns for a {THROUGHPUT_SPIN_NS} ns op "
                    f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    assert holds_known_rate(best, THROUGHPUT_SPIN_NS, threads), f"best of {len(runs)} runs; windows {best.completions}"
