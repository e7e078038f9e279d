"""Dynamic batching from Python: the result's batching facts, the rate
search with a batcher, sweeps that hold fixed-batch (open-loop) and
dynamic-batching studies side by side, and what the frame, recommend and the
report make of them. Real runs on the CPU of a model whose batch of n items
takes a known time (BatchedSpin: 1 ms + 0.1 ms x n), short and uncalibrated."""

from pathlib import Path

import pytest

import infermeter
from infermeter import load_results
from infermeter.analysis import FOUND_RATE, RATE_POINT, recommend
from infermeter.cli import main
from infermeter.find_rate import find_rate
from infermeter.frame import capacity_points
from infermeter.known_latency import batched_spin_model
from infermeter.report import write_report
from infermeter.report.batch_plot import batch_distributions
from infermeter.report.load_plot import load_figure
from infermeter.sweep import ConfigError, expand, load_config, run_sweep
from infermeter.sweep.grid import Point
from infermeter.sweep.store import ResultsFile
from sweep_helpers import write_config

A_MS, B_MS = 1.0, 0.1  # a batch of n items takes A_MS + B_MS x n
SHORT = {"warmup": 0, "calibrate": False}
SLA = "p90<20ms"  # generous: a loaded 2-core VM stalls spins by a few ms


def _batch_ms(items: int) -> float:
    return A_MS + B_MS * items


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return batched_spin_model(tmp_path_factory.mktemp("batched") / "bspin.pt", int(A_MS * 1e6), int(B_MS * 1e6))


def test_result_states_the_batches_it_formed(model):
    r = infermeter.benchmark(str(model), load="dynamic-batching", rate=1000, arrival="constant", batch_size=2,
                             max_batch=8, max_queue_delay=0.002, duration=0.5, **SHORT)
    b = r.batching
    assert (b.max_batch, b.max_queue_delay_s, b.request_items, b.preferred_batches) == (8, 0.002, 2, ())
    # Every measured request is in one batch, whole: sizes are whole requests of 2 items, at most max_batch.
    assert b.items == 2 * r.requests and sum(b.batches_by_items.values()) == b.batches
    assert sum(n * count for n, count in b.batches_by_items.items()) == b.items
    assert all(n % 2 == 0 and n <= 8 for n in b.batches_by_items)
    assert b.mean_batch_items == pytest.approx(b.items / b.batches)
    # The 2 ms delay lets a second request (1 ms behind) join most batches.
    assert b.mean_batch_items > 2
    # A torchscript runner computes each batch at its own size: no padding, and each size's time is the model's.
    assert b.padded_items == 0 and b.padding_fraction == 0
    assert set(b.compute_by_size) == set(b.batches_by_items)
    for size, compute in b.compute_by_size.items():
        assert compute.batches == b.batches_by_items[size]
        assert _batch_ms(size) * 0.999 <= compute.min_ms <= compute.mean_ms <= compute.max_ms
    assert r.inferences_per_s == pytest.approx(2 * r.requests_per_s)  # padding never counts
    closed = infermeter.benchmark(str(model), duration=0.2, **SHORT)
    assert closed.batching is None and closed.load_info == {"kind": "closed"}


def test_find_rate_with_a_batcher_beats_batch_one_and_stays_below_full_batches(model):
    """One instance, max_batch 8: full batches take 1.8 ms, so no arrival rate
    can be served beyond 8 / 1.8 ms = 4444 requests/s; batch 1 (1.1 ms) tops
    out at 909. A batcher meets the SLA far beyond the latter."""
    search = {"sla": SLA, "min_step_s": 0.3, "max_step_s": 1.0, "precision": 0.1, "max_steps": 6,
              "arrival": "constant", **SHORT}
    fixed = find_rate(str(model), **search)
    batched = find_rate(str(model), load="dynamic-batching", max_batch=8, **search)
    full_batches = 8 / (_batch_ms(8) / 1e3)
    assert (batched.load, batched.max_batch, batched.batch_size) == ("dynamic-batching", 8, 1)
    assert fixed.load == "open" and fixed.max_batch is None
    assert batched.capacity_per_s <= full_batches * 1.02  # the probe ran full batches, at most that fast
    assert fixed.best and batched.best
    assert fixed.best.offered_rate_per_s < batched.best.offered_rate_per_s < full_batches
    best = batched.best
    assert best.sustained and best.meets and best.result.load_info["kind"] == "dynamic-batching"
    assert best.result.batching.mean_batch_items > 1
    assert "full-batch capacity (a closed loop at batch 8)" in str(batched)
    assert batched.to_dict()["load"] == "dynamic-batching" and batched.to_dict()["max_batch"] == 8


def test_find_rate_refuses_a_closed_loop_and_a_batcher_the_engine_refuses(model, capsys):
    with pytest.raises(ValueError, match="load must be open or dynamic-batching, got 'closed'"):
        find_rate(str(model), sla=SLA, load="closed", **SHORT)
    # Named before the probe (which would take min_step_s), by the engine's own check.
    with pytest.raises(ValueError, match=r"batch_size \(16 items per request\) exceeds max_batch \(8\)"):
        find_rate(str(model), sla=SLA, load="dynamic-batching", batch_size=16, max_batch=8, min_step_s=60, **SHORT)
    # The command line passes its --load to the search.
    assert main(["run", str(model), "--find-rate", "--sla", SLA, "--load", "closed"]) == 2
    assert "load must be open or dynamic-batching" in capsys.readouterr().err


@pytest.mark.parametrize("doc, key, message", [
    ({"load": "dynamic-batching"}, "load", "dynamic-batching needs rates (requests/s) or find_rate: true"),
    ({"rates": [100]}, "rates", "they need load: open or dynamic-batching"),
    ({"find_rate": True, "sla": SLA}, "find_rate", "it needs load: open or dynamic-batching"),
    ({"max_batches": [4]}, "max_batches", "max_batches sets the dynamic batcher: it needs load: dynamic-batching"),
    ({"preferred_batches": "4"}, "preferred_batches", "it needs load: dynamic-batching"),
    ({"load": "open", "rates": [5], "models": [{"name": "m.pt", "max_queue_delays": [0.001]}]},
     "models[0].max_queue_delays", "max_queue_delays sets the dynamic batcher"),
    ({"rates": [5], "models": [{"name": "m.pt", "load": "dynamic-batching"}, {"name": "m.pt"}]}, "rates",
     "they need load: open or dynamic-batching"),
    ({"models": [{"name": "m.pt", "load": "open"}]}, "models[0]", "with load: open, this model needs rates"),
    ({"rates": [5], "models": [{"name": "m.pt", "load": "closed"}]}, "rates", "no model takes the sweep's rates"),
    ({"load": "dynamic-batching", "rates": [5], "batch_sizes": [16]}, "(top level)",
     "batch_size (16 items per request) exceeds max_batch (8)"),
    ({"load": "dynamic-batching", "rates": [5], "max_batches": [0]}, "max_batches[0]", "max_batch must be >= 1"),
])
def test_config_errors_name_the_key(tmp_path, model, doc, key, message):
    (tmp_path / "m.pt").write_bytes(model.read_bytes())
    path = write_config(tmp_path / "bad.yaml", **({"models": [{"name": "m.pt"}]} | doc))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert f"  {key}: " in text and message in text, text


def _study(folder: Path, model: Path) -> Path:
    """One model twice: fixed batches 1 and 4 in an open loop, and a dynamic
    batcher of max_batch 4 and 8 with no delay and with 2 ms; each at 400
    and 2000 requests/s, on a c5.large."""
    (folder / "bspin.pt").write_bytes(model.read_bytes())
    return write_config(folder / "study.yaml", name="study", instance="c5.large", sla=SLA, duration=0.3,
                        rates=[400, 2000], models=[
                            {"name": "bspin.pt", "load": "open", "batch_sizes": [1, 4]},
                            {"name": "bspin.pt", "load": "dynamic-batching", "max_batches": [4, 8],
                             "max_queue_delays": [0, 0.002]}])


def test_a_sweep_expands_both_loads_into_distinct_points(tmp_path, model):
    points = expand(load_config(_study(tmp_path, model)))
    series = f"{tmp_path / 'bspin.pt'}||as-exported|t1"
    fixed = [f"{series}|b{b}|r{r}" for b in (1, 4) for r in (400, 2000)]
    batched = [f"{series}|max_batch={m}|max_queue_delay={d}|b1|dynamic-batching|r{r}"
               for m in (4, 8) for d in (0.0, 0.002) for r in (400, 2000)]
    assert [p.key for p in points] == fixed + batched
    assert [p.load for p in points] == ["open"] * 4 + ["dynamic-batching"] * 8
    last = points[-1]
    assert last.load_label == "dynamic-batching 2000/s" and last.batcher_label == "max_batch 8, max_queue_delay 2.00 ms"
    assert last.options() == {"batch_size": 1, "threads": 1, "runner": "torchscript", "load": "dynamic-batching",
                              "rate": 2000.0, "max_batch": 8, "max_queue_delay": 0.002}
    assert points[0].options()["load"] == "open" and points[0].batcher == {}
    assert Point.from_dict(last.to_dict()) == last


@pytest.fixture(scope="module")
def study(tmp_path_factory, model) -> Path:
    folder = tmp_path_factory.mktemp("study")
    outcome = run_sweep(load_config(_study(folder, model)), folder / "out", progress=False)
    assert outcome.statuses == {"ok": 12}
    return folder


def test_each_point_runs_its_own_load(study):
    config = load_config(study / "study.yaml")
    records = ResultsFile(study / "out").records()
    assert [r["key"] for r in records] == [p.key for p in expand(config)]
    for record in records:
        point, doc = Point.from_dict(record["point"]), record["result"]
        assert doc["config"]["load"] == point.load and doc["measurement"]["load"]["offered_rate_per_s"] == point.rate
        if point.dynamic_batching:
            batcher = doc["measurement"]["load"]["batcher"]
            assert (batcher["max_batch"], batcher["max_queue_delay_s"]) == (point.batcher["max_batch"],
                                                                           point.batcher["max_queue_delay"])
    # Every point is done: resuming runs nothing.
    again = run_sweep(config, study / "out", progress=False, resume=True)
    assert again.resumed == 12 and not again.statuses


def test_frame_carries_the_batcher_and_its_batches(study):
    frame = load_results(study / "out")
    batched, fixed = frame[frame["load"] == "dynamic-batching"], frame[frame["load"] == "open"]
    assert len(batched) == 8 and len(fixed) == 4
    assert sorted(set(zip(batched["max_batch"], batched["max_queue_delay_ms"]))) == [(4, 0), (4, 2), (8, 0), (8, 2)]
    for _, row in batched.iterrows():
        b = row["result"].batching
        assert row["mean_batch"] == b.mean_batch_items and row["padding"] == 0
        assert 1 <= row["mean_batch"] <= row["max_batch"]
    for column in ("max_batch", "max_queue_delay_ms", "mean_batch", "padding"):
        assert fixed[column].isna().all()
    # At 2000 requests/s a batcher forms larger batches than at 400.
    by_rate = batched.groupby("offered_rate")["mean_batch"].mean()
    assert by_rate[2000] > by_rate[400]


def test_recommend_ranks_fixed_batches_and_batchers_together(study):
    """Fixed batches cannot serve 2000 requests/s (batch 1 tops out at 909
    requests/s, batch 4 at 714): the most they meet the SLA with is batch 4
    at 400 requests/s, 1600 inferences/s. A batcher serves 2000 requests/s
    of one item: more per server on the same instance, so cheaper."""
    frame = load_results(study / "out")
    rec = recommend(frame, SLA, target_load=10_000)
    best = rec.best
    assert best["load"] == "dynamic-batching" and best["server_basis"] == RATE_POINT
    assert best["server_inferences_per_s"] == 2000 and rec.servers() == 5
    fixed = rec.candidates[rec.candidates["load"] == "open"]
    assert not fixed.empty and (fixed["server_cost_per_million"] > best["server_cost_per_million"]).all()
    assert fixed["server_inferences_per_s"].max() <= 1600
    text = str(rec)
    delay = "0" if best["max_queue_delay_ms"] == 0 else "2.00 ms"
    assert (f"c5.large bspin.pt as-exported, dynamic batching, max_batch {best['max_batch']:g}, max_queue_delay "
            f"{delay}, 1 model instance(s)") in text
    assert "dynamic-batching arrival rate measured that meets the SLA (2000.0 requests/s x 1 item(s)" in text
    only_fixed = recommend(frame[frame["load"] == "open"], SLA)
    assert "open loop, batch 4, 1 client thread(s)" in str(only_fixed)


def test_report_draws_both_loads_and_the_batch_sizes(study, tmp_path):
    frame = load_results(study / "out")
    figure = load_figure(frame)
    assert str(figure.sla) == SLA
    labels = [c.label.split(" 1 thr ")[1] for c in figure.curves]
    assert labels == ["open loop, batch 1", "open loop, batch 4"] + [
        f"dynamic batching, max_batch {m}, max_queue_delay {d}" for m in (4, 8) for d in ("0", "2.00 ms")]
    assert all(c.rates == [400, 2000] for c in figure.curves)
    assert [c.batching for c in figure.curves] == [False] * 2 + [True] * 4
    distributions = batch_distributions(frame)
    assert len(distributions) == 8 and all(sum(d.shares) == pytest.approx(1) for d in distributions)
    report = write_report(frame, tmp_path / "report")
    for name in ("latency_vs_load.png", "batch_sizes.png"):
        assert (tmp_path / "report" / name).read_bytes().startswith(b"\x89PNG")
        assert name in {p.name for p in report.figures}
    header = report.terminal.splitlines()[0]
    for column in ("max batch", "max delay", "mean batch", "padding"):
        assert column in header
    assert "Batch sizes the dynamic batcher formed" in (tmp_path / "report" / "report.html").read_text()


def test_a_sweep_searches_the_rate_a_batcher_sustains(tmp_path, model):
    (tmp_path / "bspin.pt").write_bytes(model.read_bytes())
    config = load_config(write_config(tmp_path / "search.yaml", instance="c5.large", sla=SLA, duration=0.3,
                                      rate_precision=0.25, arrival="constant", models=[
                                          {"name": "bspin.pt", "load": "dynamic-batching", "find_rate": True,
                                           "max_batches": 8}]))
    (point,) = expand(config)
    assert point.key.endswith("|max_batch=8|max_queue_delay=0.0|b1|dynamic-batching|find-rate")
    assert run_sweep(config, tmp_path / "out", progress=False).statuses == {"ok": 1}
    frame = load_results(tmp_path / "out")
    row = frame.iloc[0]
    search = row["rate_search"]
    assert search["load"] == "dynamic-batching" and search["max_batch"] == 8
    assert row["load_point"] == "dynamic-batching find-rate" and row["sla_rate"] == search["best_rate_per_s"] > 0
    assert row["result"].load_info["kind"] == "dynamic-batching"
    assert capacity_points(frame).empty  # a batcher's answer is not a capacity against the request's batch
    rec = recommend(frame, SLA)
    assert rec.best["server_basis"] == FOUND_RATE and rec.best["server_inferences_per_s"] == search["best_rate_per_s"]
    assert "the highest dynamic-batching arrival rate meeting the SLA that find_rate found" in str(rec)
    (curve,) = load_figure(frame).curves
    assert curve.batching and len(curve.rates) == len(search["steps"])  # every step of the search
