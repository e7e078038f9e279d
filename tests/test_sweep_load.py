"""Sweeps with an open loop: the load keys and their errors, point keys,
open-loop and find-rate points measured on the CPU with a model of known
service time (`torch.ops.infermeter.spin`), resume, out-of-memory across
rates, and what the frame, the report and recommend make of the results."""

import json
import math
import shutil
from pathlib import Path

import pytest

from infermeter import load_results
from infermeter.analysis import FOUND_RATE, RATE_POINT, recommend
from infermeter.report import write_report
from infermeter.report.load_plot import load_figure
from infermeter.sweep import ConfigError, expand, load_config, run_sweep
from infermeter.sweep.grid import Point
from infermeter.sweep.store import ResultsFile
from sweep_helpers import failing_model, write_config
from infermeter.known_latency import spin_model

RESNET = [{"name": "resnet18", "resolution": 32}]
FAST_NS, SLOW_NS = 100_000, 400_000  # service times of the two spin models
SLA = "p50<0.3ms"  # the fast model meets it below saturation, the slow one never: its service alone is 0.4 ms
RATES = [500, 1000]  # requests/s: 5% and 10% of the fast model's capacity


@pytest.mark.parametrize("doc, key, message", [
    ({"load": "open"}, "load", "open needs rates (requests/s) or find_rate: true"),
    ({"rates": [100]}, "rates", "they need load: open"),
    ({"find_rate": True, "sla": "p90<5ms"}, "find_rate", "it needs load: open"),
    ({"load": "open", "find_rate": True}, "find_rate", "find_rate needs the sweep's sla"),
    ({"load": "open", "rates": [100], "find_rate": True, "sla": "p90<5ms"}, "rates", "both given"),
    ({"load": "open", "sla": "p90<5ms", "models": [{"name": "resnet18", "rates": [1], "find_rate": True}]},
     "models[0].rates", "both given"),
    ({"models": [{"name": "resnet18", "rates": [5]}]}, "models[0].rates", "they need load: open"),
    ({"load": "open", "rates": [100], "models": [{"name": "resnet18", "find_rate": False}]}, "models[0]",
     "this model needs rates or find_rate: true"),
    ({"load": "open", "find_rate": True, "sla": "p90<5ms", "ci": 0.02}, "ci", "ci applies to closed-loop and rates"),
    ({"load": "open", "rates": [100, 50, 100]}, "rates", "100 is given twice"),
    ({"load": "open", "rates": [0]}, "rates[0]", "rate must be > 0"),
    ({"load": "open", "rates": ["fast"]}, "rates[0]", "rate expects a number, got 'fast'"),
    ({"load": "sometimes"}, "load", "load must be one of closed, open, dynamic-batching, got 'sometimes'"),
    ({"load": "open", "rates": [1], "arrival": "bursty"}, "arrival", "arrival must be one of poisson, constant"),
    ({"load": "open", "find_rate": "yes", "sla": "p90<5ms"}, "find_rate", "find_rate expects true or false"),
    ({"repeat": 0}, "repeat", "repeat must be >= 1 and at most 1000"),
    ({"ci": 2}, "ci", "ci must be > 0 and < 1"),
    ({"ci": 0.02, "ci_percentile": 100}, "ci_percentile", "ci_percentile must be > 0 and < 100"),
])
def test_load_errors_name_file_and_key(tmp_path, doc, key, message):
    path = write_config(tmp_path / "bad.yaml", **({"models": RESNET} | doc))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert str(path) in text and f"  {key}: " in text and message in text, text


def test_open_loop_points_add_their_load_to_the_closed_loop_key(tmp_path):
    config = load_config(write_config(
        tmp_path / "g.yaml", load="open", sla="p90<5ms", rates=[1250.5, 500], batch_sizes=[2, 1],
        models=RESNET + [{"name": "resnet18", "resolution": 32, "find_rate": True}]))
    closed = expand(load_config(write_config(tmp_path / "c.yaml", models=RESNET, batch_sizes=[2, 1])))
    base = [p.key for p in closed]
    assert base == ["resnet18|resolution=32|fp32|t1|b1", "resnet18|resolution=32|fp32|t1|b2"]
    points = expand(config)
    # Rates innermost and ascending, after the batch size; the second entry searches instead.
    assert [p.key for p in points] == [base[0] + "|r500", base[0] + "|r1250.5", base[1] + "|r500",
                                       base[1] + "|r1250.5", base[0] + "|find-rate", base[1] + "|find-rate"]
    assert {p.series for p in points} == {closed[0].series}  # an OOM skips larger batches at every rate
    assert [p.load_label for p in points[:2]] == ["open 500/s", "open 1250.5/s"]


def test_records_of_earlier_sweeps_keep_their_keys():
    old = {"model": "resnet50", "variant": {"resolution": 224}, "precision": "fp16", "batch_size": 8, "threads": 2}
    point = Point.from_dict(old)
    assert point.key == "resnet50|resolution=224|fp16|t2|b8" and point.load_label == "closed"
    assert Point.from_dict(point.to_dict()) == point


def test_shipped_open_loop_config():
    config = load_config(Path(__file__).parents[1] / "bench_configs" / "cpu_open_loop.yaml")
    assert config.load == "open" and config.sla and config.device == "cpu"
    assert [p.key.rsplit("|", 1)[1] for p in expand(config)] == ["r50", "r100", "find-rate"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """An open-loop sweep (two rates of the fast model, a rate search for
    each model) and a closed-loop one of the fast model, repeated twice back
    to back with a statistical stop, both "on" a c5.large."""
    folder = tmp_path_factory.mktemp("load")
    for name, ns in (("fast.pt", FAST_NS), ("slow.pt", SLOW_NS)):
        spin_model(folder / name, ns)
    opened = write_config(folder / "open.yaml", load="open", sla=SLA, instance="c5.large", rates=RATES,
                          models=[{"name": "fast.pt"}, {"name": "fast.pt", "find_rate": True},
                                  {"name": "slow.pt", "find_rate": True}])
    closed = write_config(folder / "closed.yaml", instance="c5.large", models=[{"name": "fast.pt"}], repeat=2,
                          repeat_spacing="back-to-back", ci=0.2, ci_percentile=50, min_duration=0.3, duration=1.0)
    outcomes = [run_sweep(load_config(path), folder / path.stem, progress=False) for path in (opened, closed)]
    assert [o.statuses for o in outcomes] == [{"ok": 4}, {"ok": 1}]
    return folder


def _records(folder: Path) -> dict[str, dict]:
    return {Point.from_dict(r["point"]).load_label + " " + Path(r["point"]["model"]).stem: r
            for r in ResultsFile(folder).records()}


def test_open_loop_points_are_measured_at_their_rate(swept):
    records = _records(swept / "open")
    assert [r["key"] for r in ResultsFile(swept / "open").records()] == \
        [p.key for p in expand(load_config(swept / "open.yaml"))]
    for rate in RATES:
        doc = records[f"open {rate}/s fast"]["result"]
        load = doc["measurement"]["load"]
        assert load["kind"] == "open" and load["offered_rate_per_s"] == rate and load["arrival"] == "poisson"
        response, host = doc["latency"]["response"], doc["latency"]["host"]
        # Response time runs from when a request was due, so it is never shorter than the service itself.
        assert response["min_ns"] >= FAST_NS and response["p50_ns"] >= host["p50_ns"]


def test_find_rate_point_reports_the_best_step_with_the_search(swept):
    records = _records(swept / "open")
    doc = records["find-rate fast"]["result"]
    search = doc["rate_search"]
    assert search["sla"] == SLA and len(search["steps"]) > 1
    best = max((s for s in search["steps"] if s["meets"]), key=lambda s: s["offered_rate_per_s"])
    assert search["best_rate_per_s"] == best["offered_rate_per_s"] < search["capacity_per_s"]
    assert best["latency_ms"] < 0.3 and best["sustained"]
    assert doc["measurement"]["load"]["offered_rate_per_s"] == best["offered_rate_per_s"]  # the best step's run
    # Nothing meets the SLA for the slow model: its lowest-rate step is reported, the search says none met it.
    slow = records["find-rate slow"]
    assert slow["status"] == "ok" and slow["result"]["rate_search"]["best_rate_per_s"] is None
    steps = slow["result"]["rate_search"]["steps"]
    assert not any(s["meets"] for s in steps)
    assert slow["result"]["measurement"]["load"]["offered_rate_per_s"] == min(s["offered_rate_per_s"] for s in steps)


def test_frame_columns_for_open_and_closed_points(swept):
    frame = load_results(swept / "open", swept / "closed")
    by = {(Path(r["model"]).stem, r["load_point"]): r for _, r in frame.iterrows()}
    for rate in RATES:
        row = by[("fast", f"open {rate}/s")]
        result = row["result"]
        assert row["load"] == "open" and row["offered_rate"] == rate and row["sustained"] is True
        assert row["achieved_rate"] == result.load_info["achieved_rate_per_s"]
        # Open-loop latency columns are response time, not host latency.
        assert row["p50_ms"] == result.response_latency.p50 and row["p50_ms"] >= result.latency.p50
        unsupported = result.to_dict()["latency"]["response"]["p99_ns"] is None
        assert math.isnan(row["p99_ms"]) == unsupported
        assert math.isnan(row["sla_rate"]) and math.isnan(row["repeat_cv"]) and row["converged"] is None
    found = by[("fast", "find-rate")]
    search = found["rate_search"]
    assert found["sla_rate"] == search["best_rate_per_s"] == found["offered_rate"]
    assert found["sla_inferences_per_s"] == search["best_inferences_per_s"]
    assert math.isnan(by[("slow", "find-rate")]["sla_rate"])
    closed = by[("fast", "closed")]
    doc = closed["result"].to_dict()
    assert closed["load"] == "closed" and math.isnan(closed["offered_rate"]) and closed["sustained"] is None
    assert closed["repeat_cv"] == doc["repeats"]["inferences_per_s"]["cv"] and len(doc["repeats"]["runs"]) == 2
    assert doc["repeats"]["isolation"] == "fresh processes, back to back"
    assert closed["converged"] is doc["measurement"]["stop"]["rule"]["converged"]
    for _, row in frame.iterrows():  # the interval, where the run was long enough to state one, holds the figure
        if not math.isnan(row["throughput_lo"]):
            assert row["throughput_lo"] <= row["inferences_per_s"] <= row["throughput_hi"]
    assert frame["launch_bound"].isna().all()  # on the CPU nothing is launch-bound


def test_report_draws_latency_against_offered_load(swept, tmp_path):
    frame = load_results(swept / "open", swept / "closed")
    figure = load_figure(frame)
    assert figure.percentile == 50 and str(figure.sla) == SLA
    curves = {c.label.split()[1]: c for c in figure.curves}
    fast, slow = curves["fast.pt"], curves["slow.pt"]
    steps = frame.loc[frame["load_point"] == "find-rate", "rate_search"]
    fast_steps = next(s for s in steps if s["best_rate_per_s"])["steps"]
    assert fast.rates == sorted(RATES + [s["offered_rate_per_s"] for s in fast_steps])
    at_500 = frame[frame["load_point"] == "open 500/s"].iloc[0]
    assert fast.latencies_ms[fast.rates.index(500)] == pytest.approx(at_500["p50_ms"], rel=0.01)
    closed = frame[frame["load"] == "closed"].iloc[0]
    assert fast.closed == [(closed["result"].requests_per_s, pytest.approx(closed["p50_ms"], rel=0.01))]
    assert slow.closed == [] and len(slow.rates) == len(next(s for s in steps if not s["best_rate_per_s"])["steps"])
    report = write_report(frame, tmp_path / "report")
    assert "latency_vs_load.png" in {p.name for p in report.figures}
    assert (tmp_path / "report" / "latency_vs_load.png").read_bytes().startswith(b"\x89PNG")
    assert "Latency against offered load" in (tmp_path / "report" / "report.html").read_text()
    header = report.terminal.splitlines()[0].split()
    assert {"load", "offered", "achieved", "sustained", "CV", "within"} <= set(header)
    assert "open 500/s" in report.terminal and "find-rate" in report.terminal


def test_recommend_sizes_the_fleet_from_the_open_loop(swept):
    frame = load_results(swept / "open", swept / "closed")
    rec = recommend(frame, SLA, target_load=20_000)
    best = rec.best
    search = best["rate_search"]
    # The fast model's configuration has open-loop results, so its closed-loop peak is not used.
    assert best["server_basis"] == FOUND_RATE and best["server_inferences_per_s"] == search["best_inferences_per_s"]
    assert best["server_inferences_per_s"] < 1e9 / FAST_NS  # below what one client of the spin can complete
    assert rec.servers() == math.ceil(20_000 / search["best_inferences_per_s"])
    assert "that find_rate found" in str(rec) and "warning" not in str(rec)
    rates_only = recommend(frame[frame["load_point"] != "find-rate"], SLA, target_load=20_000)
    assert rates_only.best["server_basis"] == RATE_POINT and rates_only.servers() == 20  # 1000 requests/s met it
    assert "highest sustained open-loop rate" in str(rates_only)


def test_resuming_an_open_loop_sweep_runs_only_what_is_missing(swept, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(swept / "open", out)
    results = out / "results.jsonl"
    kept = [line for line in results.read_text().splitlines(keepends=True) if "|r1000" not in line]
    results.write_text("".join(kept))  # as if the sweep had stopped before that point
    config = load_config(swept / "open.yaml")
    outcome = run_sweep(config, out, progress=False, resume=True)
    assert outcome.resumed == 3 and outcome.statuses == {"ok": 1}
    records = ResultsFile(out).records()
    assert records[:3] == [json.loads(line) for line in kept]  # nothing done is run again
    assert {r["key"] for r in records} == {p.key for p in expand(config)}
    assert records[3]["key"].endswith("|r1000") and records[3]["result"]["measurement"]["load"][
        "offered_rate_per_s"] == 1000


def test_out_of_memory_skips_that_batch_at_every_rate_and_larger_ones(tmp_path):
    failing_model(tmp_path / "oom.pt", 2, "CUDA out of memory. Tried to allocate 20.00 GiB")
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "oom.pt"}], batch_sizes=[1, 2, 4],
                                      load="open", rates=[100, 200]))
    outcome = run_sweep(config, tmp_path / "out", progress=False)
    records = ResultsFile(tmp_path / "out").records()
    statuses = [(r["point"]["batch_size"], r["point"]["rate"], r["status"]) for r in records]
    assert statuses == [(1, 100, "ok"), (1, 200, "ok"), (2, 100, "oom"), (2, 200, "skipped"), (4, 100, "skipped"),
                        (4, 200, "skipped")]
    assert outcome.statuses == {"ok": 2, "oom": 1, "skipped": 3}


def test_a_repeated_rate_search_point_records_the_spread_of_its_answers(tmp_path):
    """Two rounds of the sweep, one search in each, combined as one repeated search."""
    spin_model(tmp_path / "fast.pt", FAST_NS)
    config = write_config(tmp_path / "s.yaml", load="open", sla=SLA, models=[{"name": "fast.pt", "find_rate": True}],
                          repeat=2, rate_precision=0.3)
    assert run_sweep(load_config(config), tmp_path / "out", progress=False).statuses == {"ok": 2}
    (record,) = ResultsFile(tmp_path / "out").records()
    search = record["result"]["rate_search"]
    assert search["repeated"]["searches"] == 2 and len(search["searches"]) == 2
    assert search["repeated"]["isolation"] == "2 rounds of one sweep, interleaved; each search in the sweep's process"
    rounds = [ResultsFile(tmp_path / "out" / "rounds" / str(i)).records()[0]["result"]["rate_search"] for i in (1, 2)]
    assert search["searches"] == rounds
    answers = [s["best_rate_per_s"] for s in search["searches"]]
    assert search["repeated"]["min_per_s"] == min(answers) and search["repeated"]["max_per_s"] == max(answers)
    assert search["best_rate_per_s"] == min(answers)  # the median search of two: the lower
    # The point's own document is the median search's best step.
    assert record["result"]["measurement"]["load"]["offered_rate_per_s"] == search["best_rate_per_s"]
