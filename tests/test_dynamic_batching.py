"""The dynamic-batching load against ground truth: response times and batch
sizes derived by hand for constant arrivals, and, for Poisson arrivals, an
independent simulation of the batcher's rules replaying the arrivals the run
traced (tests/batching_reference.py). The model is a spin whose batch of n
takes exactly 1 ms + 0.1 ms x n. Also: the trace, and the errors.

As in tests/test_open_loop.py, a run in which the machine held a batch up
(its compute, or the harness's dispatch, STALL_MS beyond what it should take,
or more than one batch in a hundred HOLD_MS: steal time on a shared VM, a
neighbour's burst) is measured again, up to
three times, and the test is skipped, saying why, if the machine never
settles: one such hold delays every request queued behind it."""

from __future__ import annotations

import json
import os
import time

import pytest

import infermeter
from batching_reference import DERIVED, service_ms, simulate, traced_due_ms
from infermeter.known_latency import batched_spin_model

TOLERANCE = 0.05
RUN = dict(load="dynamic-batching", warmup=0.2, calibrate=False)
STALL_MS = 0.5
# A quiet 2-core VM holds 0-0.2% of batches more than 0.1 ms.
HOLD_MS, HELD_SHARE = 0.1, 0.01


def holds(r, trace) -> tuple[float, float]:
    """How far the machine held the run's worst batch up (its compute beyond
    the spin's, or the harness's lateness in dispatching it), and the share
    of batches whose compute it held up by more than HOLD_MS. Holds below
    STALL_MS still move p99 by more than the tolerance when more than about
    one batch in a hundred takes one."""
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    held = {x["batch"]: (x["completed_ns"] - x["dispatched_ns"]) / 1e6 - service_ms(x["computed"]) for x in rows}
    worst = max(max(held.values(), default=0.0), r.dispatch_latency.max if r.dispatch_latency else 0.0)
    return worst, sum(h > HOLD_MS for h in held.values()) / max(len(held), 1)


def quiet_run(model, trace, **options):
    """A traced run the machine left alone, or a skip."""
    for _ in range(3):
        r = infermeter.benchmark(model, trace=str(trace), **RUN, **options)
        worst, share = holds(r, trace)
        if worst < STALL_MS and share < HELD_SHARE:
            return r
        time.sleep(1.0)
    pytest.skip(f"the machine is busy: a batch was held up {worst:.1f} ms beyond its spin, {share:.1%} of batches "
                f"more than {HOLD_MS} ms (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(batched_spin_model(tmp_path_factory.mktemp("batching") / "spin.pt", 1_000_000, 100_000))


def close(measured: float, expected: float) -> bool:
    return abs(measured - expected) <= TOLERANCE * expected


@pytest.mark.parametrize("case", DERIVED, ids=lambda c: c.name)
def test_constant_arrivals_measure_what_the_rules_give_by_hand(model, case, tmp_path):
    r = quiet_run(model, tmp_path / "trace.jsonl", arrival="constant", duration=1.5, **case.options)
    response = r.response_latency
    measured = (response.p50, response.p99, r.batching.mean_batch_items)
    assert r.load_info["sustained"], r.summary()
    assert close(response.p50, case.p50_ms) and close(response.p99, case.p99_ms), (measured, case.why)
    assert close(r.batching.mean_batch_items, case.mean_batch), (measured, case.why)
    assert r.batching.padding_fraction == 0  # the interpreter runs every size as it comes


POISSON = (
    dict(rate=1500, threads=1, max_batch=8, max_queue_delay=0.002),
    dict(rate=2500, threads=2, max_batch=4, max_queue_delay=0.001),
    dict(rate=1200, threads=1, max_batch=8, max_queue_delay=0.003, preferred_batches="4"),
)


@pytest.mark.parametrize("options", POISSON, ids=lambda o: "-".join(f"{k}{v}" for k, v in o.items()))
def test_poisson_arrivals_measure_what_an_independent_simulation_gives(model, options, tmp_path):
    trace = tmp_path / "trace.jsonl"
    r = quiet_run(model, trace, arrival="poisson", seed=7, duration=2.0, **options)
    preferred = tuple(int(p) for p in options.get("preferred_batches", "").split(",") if p)
    sim = simulate(traced_due_ms(trace), instances=options["threads"], max_batch=options["max_batch"],
                   max_queue_delay_ms=options["max_queue_delay"] * 1e3, preferred=preferred)
    measured = (r.response_latency.p50, r.response_latency.p99, r.batching.mean_batch_items)
    expected = (sim.percentile_ms(50), sim.percentile_ms(99), sim.mean_batch)
    assert all(close(m, e) for m, e in zip(measured, expected)), (measured, expected)


def test_the_trace_holds_every_measured_request_with_its_batch(model, tmp_path):
    trace = tmp_path / "trace.jsonl"
    r = infermeter.benchmark(model, arrival="constant", rate=2000, max_batch=5, max_queue_delay=0.05, duration=0.5,
                             trace=str(trace), **RUN)
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(rows) == r.requests
    assert [row["request"] for row in rows] == list(range(len(rows)))
    assert all(row["due_ns"] <= row["dispatched_ns"] < row["completed_ns"] for row in rows)
    batches: dict[int, list[dict]] = {}
    for row in rows:
        batches.setdefault(row["batch"], []).append(row)
    for members in batches.values():
        # A batch's requests share its dispatch, completion, size and worker; its size is its member count.
        assert len({(m["dispatched_ns"], m["completed_ns"], m["items"], m["worker"]) for m in members}) == 1
        assert members[0]["items"] == len(members) == members[0]["computed"]
    assert sum(len(m) for m in batches.values()) == r.batching.items


def test_a_closed_loop_traces_each_request_due_when_issued(model, tmp_path):
    trace = tmp_path / "closed.jsonl"
    r = infermeter.benchmark(model, duration=0.3, warmup=0, calibrate=False, batch_size=2, trace=str(trace))
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(rows) == r.requests
    assert all(row["due_ns"] == row["dispatched_ns"] and row["items"] == 2 for row in rows)
    assert len({row["batch"] for row in rows}) == len(rows)


def test_a_fixed_batch_model_and_explicit_inputs_are_refused_with_the_way_out(model, tmp_path):
    import torch

    # The same spin, its stored spec fixed to a batch of 3 (as a static export stores it).
    spec = {}
    module = torch.jit.load(model, _extra_files=(files := {"infermeter/inputs.json": ""}))
    spec = json.loads(files["infermeter/inputs.json"])
    for i in spec["inputs"]:
        i["shape"] = [3 if d == -1 else d for d in i["shape"]]
    fixed = tmp_path / "fixed.pt"
    torch.jit.save(module, str(fixed), _extra_files={"infermeter/inputs.json": json.dumps(spec)})
    with pytest.raises(ValueError, match="fixed batch of 3.*export it with a dynamic batch"):
        infermeter.benchmark(str(fixed), rate=100, duration=0.2, **RUN)
    with pytest.raises(ValueError, match="explicit inputs fix one batch"):
        infermeter.benchmark(model, rate=100, duration=0.2, inputs=[torch.zeros(1)], **RUN)


def test_options_that_cannot_batch_are_refused_before_measuring(model, tmp_path):
    with pytest.raises(ValueError, match="needs a rate"):
        infermeter.benchmark(model, duration=0.2, **RUN)
    with pytest.raises(ValueError, match="exceeds max_batch"):
        infermeter.benchmark(model, rate=100, batch_size=16, max_batch=8, duration=0.2, **RUN)
    with pytest.raises(ValueError, match="trace .* folder .* does not exist"):
        infermeter.benchmark(model, rate=100, duration=0.2, trace=str(tmp_path / "nowhere" / "t.jsonl"), **RUN)


def test_requests_of_several_items_are_batched_by_items(model):
    r = infermeter.benchmark(model, arrival="constant", rate=1000, batch_size=2, max_batch=6, max_queue_delay=0.05,
                             duration=0.6, **RUN)
    # Three requests of 2 items fill each batch of 6: 1 + 0.6 ms, then the next three are 3 ms apart.
    assert r.batching.mean_batch_items == pytest.approx(6, rel=0.05)
    assert r.inferences_per_s == pytest.approx(2 * r.requests_per_s)
    assert r.load_info["achieved_items_per_s"] == pytest.approx(r.inferences_per_s)
