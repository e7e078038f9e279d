"""Which interval a result states, and where decisions use it: repeats in
fresh processes state across-run intervals (the engine's combine_repeats),
single runs within-run ones; recommend marks SLA verdicts an interval
cannot settle; the report draws the intervals; a repeated rate search
states its answers' spread. How well each kind covers the next run is
measured by benchmarks/interval_coverage.py (docs/intervals.md), not here."""

from __future__ import annotations

import json
import math

import pytest

import infermeter
from infermeter import _native, fresh_process, load_results
from infermeter.analysis import recommend
from infermeter.find_rate import find_rate_repeated
from infermeter.frame import capacity_points
from infermeter.intervals import ACROSS_RUNS, WITHIN_RUN, percentile_interval_ms, straddles
from infermeter.known_latency import spin_model
from infermeter.report.plots import interval_kinds
from infermeter.sweep.store import ResultsFile
from sweep_helpers import synthetic_record, write_records

QUICK = {"warmup": 0.05, "calibrate": False}


@pytest.fixture(scope="module")
def spin(tmp_path_factory):
    return spin_model(tmp_path_factory.mktemp("spin") / "spin.pt", 500_000)


def test_a_repeat_runs_each_measurement_in_a_fresh_process_and_states_across_run_intervals(spin, monkeypatch):
    real, children = fresh_process.subprocess.Popen, []

    def popen(*args, **kwargs):
        children.append(real(*args, **kwargs))
        return children[-1]

    monkeypatch.setattr(fresh_process.subprocess, "Popen", popen)
    r = infermeter.benchmark(spin, repeat=3, duration=1.0, **QUICK)
    assert len({c.pid for c in children}) == 3 and all(c.returncode == 0 for c in children)
    doc = r.to_dict()
    assert doc["repeats"]["isolation"] == "fresh processes, back to back" and doc["repeats"]["count"] == 3
    ci = doc["measurement"]["throughput_ci"]
    assert r.interval_kind == ACROSS_RUNS and ci["runs"] == 3
    rate = doc["repeats"]["inferences_per_s"]
    assert (ci["lo_inferences_per_s"], ci["hi_inferences_per_s"]) == (pytest.approx(max(0.0, rate["lo"])), rate["hi"])
    assert ci["within_run"]["kind"] == WITHIN_RUN  # the reported run's own, kept
    assert rate["within_run_cv"] > 0 and rate["between_run_cv"] >= 0
    # The percentile intervals are the runs' agreement too: the t interval of their p99s.
    p99s = [run["p99_ns"] for run in doc["repeats"]["runs"]]
    lo, hi, kind = percentile_interval_ms(doc, 99)
    assert kind == ACROSS_RUNS and lo * 1e6 == pytest.approx(max(0.0, doc["repeats"]["p99_ns"]["lo"]))
    assert lo * 1e6 <= sum(p99s) / 3 <= hi * 1e6


def test_a_single_run_states_within_run_intervals(spin):
    r = infermeter.benchmark(spin, duration=1.0, **QUICK)
    doc = r.to_dict()
    assert r.interval_kind == WITHIN_RUN and doc["latency"]["host"]["intervals_kind"] == WITHIN_RUN
    stated = doc["latency"]["host"]["intervals"]["p99_ns"]
    assert percentile_interval_ms(doc, 99) == (stated[0] / 1e6, stated[1] / 1e6, WITHIN_RUN)
    # A percentile the result does not list: order statistics of its histogram, around the figure.
    lo, hi, kind = percentile_interval_ms(doc, 97)
    assert kind == WITHIN_RUN and lo <= r.histogram.get_value_at_percentile(97) / 1e6 <= hi
    # Binomial(1000, 0.5): P(B <= 468) = P(B >= 532) = 0.0250 (scipy), the next ranks in exceed it.
    assert _native.percentile_rank_interval(1000, 0.5) == (469, 532)
    assert _native.percentile_rank_interval(10, 0.99) is None


def test_a_failure_in_the_fresh_process_is_raised_as_its_own_error(tmp_path):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        infermeter.benchmark(spin_model(tmp_path / "s.pt", 1000), repeat=2, batch_size=0, **QUICK)
    with pytest.raises(Exception, match="nothing.pt"):
        infermeter.benchmark(tmp_path / "nothing.pt", repeat=2, **QUICK)


def test_straddles_is_inclusive_and_needs_an_interval():
    assert straddles((9.0, 10.0, WITHIN_RUN), 10.0) and straddles((9.0, 11.0, WITHIN_RUN), 10.0)
    assert not straddles((10.1, 11.0, WITHIN_RUN), 10.0) and not straddles(None, 10.0)


def _record(latencies, rate=1000.0, batch=1):
    return synthetic_record("bert", batch, 1, "g5.xlarge", rate, latencies)


def test_recommend_marks_a_verdict_its_interval_cannot_settle(tmp_path):
    # 1000 requests: p90 of these is 5.0 ms, its 95% interval spans the
    # 4.9-5.1 ms step; the other configuration's p90 is far below any limit.
    near = [4.0] * 880 + [4.9] * 15 + [5.0] * 15 + [5.1] * 15 + [6.0] * 75
    far = [1.0] * 1000
    path = write_records(tmp_path / "r.jsonl", [_record(near, 2000.0), _record(far, 900.0, batch=2)])
    frame = load_results(path)
    rec = recommend(frame, "p90<5.05ms")
    best = rec.best
    assert best["batch_size"] == 1 and best["borderline"]
    lo, hi = best["sla_lo_ms"], best["sla_hi_ms"]
    assert lo <= 5.05 <= hi and best["sla_interval_kind"] == WITHIN_RUN
    text = str(rec)
    assert "borderline: that interval straddles the 5.05 ms limit" in text and "merge --rounds" in text
    assert "p90 95% interval" in text
    # With a limit the interval clears, nothing is borderline.
    assert "borderline" not in str(recommend(frame, "p90<20ms"))
    # A point that fails inside its interval is a near miss.
    missed = recommend(frame, "p90<4.95ms")
    assert missed.near_misses == 1 and "1 point(s) failing the SLA have a p90 interval straddling" in str(missed)


def test_the_report_says_which_intervals_its_error_bars_are(tmp_path):
    runs = [_record([1.0] * 200, rate)["result"] for rate in (100.0, 104.0, 96.0)]
    repeated = _record([1.0] * 200) | {"result": json.loads(_native.combine_repeats(
        [json.dumps(r) for r in runs], "fresh processes"))}
    single = synthetic_record("bert", 2, 1, "g5.xlarge", 150.0, [1.0] * 200)
    single["result"]["measurement"]["throughput_ci"] = {"kind": WITHIN_RUN, "lo_inferences_per_s": 149.0,
                                                        "hi_inferences_per_s": 151.0, "half_width_rel": 1 / 150}
    both = capacity_points(load_results(write_records(tmp_path / "r.jsonl", [repeated, single])))
    assert list(both.sort_values("batch_size")["interval"]) == ["across 3 runs", "within-run"]
    assert interval_kinds(both) == "across runs where repeated, else within the run"
    assert interval_kinds(both[both["batch_size"] == 1]) == "across repeated runs"
    assert interval_kinds(both[both["batch_size"] == 2]).startswith("within each run")


def test_a_repeated_rate_search_states_the_spread_of_its_answers(spin):
    said = []
    repeated = find_rate_repeated(spin, searches=2, sla="p50<50ms", precision=0.2, min_step_s=0.3,
                                  on_search=said.append, **QUICK)
    assert said == [0, 1] and len(repeated.searches) == 2
    answers = repeated.answers
    assert all(a > 0 for a in answers)
    spread = repeated.spread()
    assert (spread["min_per_s"], spread["max_per_s"]) == (min(answers), max(answers))
    assert spread["searches"] == 2 and spread["cv"] >= 0 and spread["isolation"] == "one process, back to back"
    doc = repeated.to_dict()
    assert doc["repeated"]["searches"] == 2 and len(doc["searches"]) == 2
    assert doc["best_rate_per_s"] == repeated.median.best.offered_rate_per_s == min(answers)  # lower middle of 2
    for search in repeated.searches:
        # The answer lies between itself and the next rate up that failed (or the capacity).
        assert search.best.offered_rate_per_s < search.failing_above <= search.capacity_per_s
        assert search.precision_rel == pytest.approx(1 - search.best.offered_rate_per_s / search.failing_above)
    assert "2 searches (one process)" in str(repeated)
    with pytest.raises(ValueError, match="at least 2 searches"):
        find_rate_repeated(spin, searches=1, sla="p50<50ms")


def test_rounds_of_a_sweep_merge_into_repeated_points(tmp_path, capsys):
    from infermeter.cli import main

    rounds = [write_records(tmp_path / f"round{i}" / "results.jsonl",
                            [_record([1.0] * 200, rate), _record([2.0] * 200, 10 * rate, batch=4)])
              for i, rate in enumerate((100.0, 104.0, 96.0))]
    assert main(["merge", "--rounds", *map(str, rounds), "-o", str(tmp_path / "merged")]) == 0
    assert "2 points written" in capsys.readouterr().out
    frame = load_results(tmp_path / "merged").set_index("batch_size")
    assert list(frame["interval"]) == ["across 3 runs", "across 3 runs"]
    assert frame.loc[1, "inferences_per_s"] == 100.0  # the median round's own figures
    half = 4.302652729911275 * 4.0 / 3 ** 0.5  # t(0.975, 2) x stddev 4 / sqrt(3), around the mean 100
    assert (frame.loc[1, "throughput_lo"], frame.loc[1, "throughput_hi"]) == (pytest.approx(100 - half),
                                                                            pytest.approx(100 + half))
    assert frame.loc[1, "result"].repeats["isolation"] == "3 separate sweeps"
    # Without --rounds the same inputs are overlapping shards.
    assert main(["merge", *map(str, rounds), "-o", str(tmp_path / "shards")]) == 2
    assert "shards overlap" in capsys.readouterr().err


def test_merge_rounds_refuses_an_input_given_twice_and_combines_rate_searches(tmp_path):
    from infermeter.sweep.merge import merge

    one = write_records(tmp_path / "a" / "results.jsonl", [_record([1.0] * 200)])
    with pytest.raises(ValueError, match="is given twice: its runs would count as two rounds"):
        merge([one, tmp_path / "a"], tmp_path / "out", rounds=True)
    assert not (tmp_path / "out").exists()
    searched = []
    for i, answer in enumerate((104.0, 96.0, 100.0)):
        record = _record([1.0] * 200, rate=answer)
        record["result"]["rate_search"] = {"best_rate_per_s": answer, "interrupted": False, "round": i}
        searched.append(write_records(tmp_path / f"s{i}" / "results.jsonl", [record]))
    merge(searched, tmp_path / "out", rounds=True)
    (combined,) = ResultsFile(tmp_path / "out").records()
    search = combined["result"]["rate_search"]
    # The median search (100/s, the third round's) is the point's, with every round's answer and their spread.
    assert search["round"] == 2 and search["best_rate_per_s"] == 100.0
    assert combined["result"]["measurement"]["inferences_per_s"] == 100.0
    assert [s["best_rate_per_s"] for s in search["searches"]] == [104.0, 96.0, 100.0]
    assert search["repeated"] == {"searches": 3, "min_per_s": 96.0, "max_per_s": 104.0, "mean_per_s": 100.0,
                                  "cv": pytest.approx(4.0 / 100.0), "isolation": "3 separate sweeps"}


def test_ctrl_c_in_a_later_searchs_probe_keeps_the_finished_searches(spin, monkeypatch):
    import infermeter.find_rate as fr
    from infermeter.result import Interrupted

    real, calls = fr._probe, []

    def probe(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted(infermeter.benchmark(spin, duration=0.2, **QUICK))
        return real(*args, **kwargs)

    monkeypatch.setattr(fr, "_probe", probe)
    with pytest.raises(fr.SearchInterrupted) as stopped:
        find_rate_repeated(spin, searches=3, sla="p50<50ms", precision=0.3, min_step_s=0.3, **QUICK)
    kept = stopped.value.search
    assert len(kept.searches) == 1 and kept.searches[0].best is not None and kept.interrupted
