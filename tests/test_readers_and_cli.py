"""What reads results (the frame, reports, compare) and the `run` command's
edges: points without a result or without latencies beside open-loop ones,
flags that do not apply, Ctrl-C during repeats and rate searches, and an SLA
percentile no step can state. Models spin a known time (Spin, 1 ms) for
short runs, without calibration."""

import json
import math
import os
import re
import signal
import threading

import pytest

import infermeter
from infermeter import _native, fresh_process, load_results
from infermeter.cli import main
from infermeter.find_rate import find_rate
from infermeter.frame import series_label
from infermeter.report import chosen_points, write_report
from infermeter.report.table import formatted, summary_table
from infermeter.result import Result
from infermeter.sla import parse_sla
from infermeter.sweep.grid import Point
from infermeter.sweep.store import RECORD_SCHEMA
from infermeter.known_latency import spin_model
from infermeter.units import duration_unit, format_duration_ms, format_duration_ns
from sweep_helpers import synthetic_record, write_records

SPIN_NS = 1_000_000


@pytest.fixture(scope="module")
def spin(tmp_path_factory):
    return spin_model(tmp_path_factory.mktemp("spin") / "spin.pt", SPIN_NS)


@pytest.fixture(scope="module")
def open_loop_doc(spin):
    """A real open-loop run: 200 requests/s for 0.3 s."""
    return infermeter.benchmark(spin, rate=200, duration=0.3, warmup=0.05, calibrate=False).to_dict()


def _record(point: Point, status: str = "ok", result: dict | None = None, error: str | None = None,
            sla: str | None = None) -> dict:
    """A results record as a sweep stores it, of any status."""
    return {"schema": RECORD_SCHEMA, "key": point.key, "series": point.series, "point": point.to_dict(),
            "sweep": {"name": "t", "settings": {"device": "cpu", "sla": sla}}, "instance": None,
            "status": status, "error": error, "result": result}


def _no_samples_doc(model: str, batch: int) -> dict:
    """The engine's document of a run whose every request outlasted it."""
    return json.loads(_native.result_from_timings({"batch_size": batch, "duration": 1.0, "warmup": 0.0},
                                                  {"path": model}, [[]], batch, {}))


def _interrupt_engine_run(monkeypatch, nth: int, after_s: float) -> None:
    """Ctrl-C `after_s` into the engine's `nth` run of this test, as a user
    would press it: a real SIGINT, which the engine polls for."""
    real = _native.run
    calls = []

    def run(*args):
        calls.append(args)
        if len(calls) == nth:
            threading.Timer(after_s, os.kill, (os.getpid(), signal.SIGINT)).start()
        return real(*args)

    monkeypatch.setattr(_native, "run", run)


def test_report_reads_failed_and_skipped_points_beside_an_open_loop_point(spin, open_loop_doc, tmp_path, capsys):
    model = str(spin)
    records = [synthetic_record(model, 1, 1, None, 900.0, [1.0] * 100),
               _record(Point(model, (), "fp32", 1, 1, rate=200.0), result=open_loop_doc, sla="p90<5ms"),
               _record(Point(model, (), "fp32", 2, 1), "failed", error="RuntimeError: boom"),
               _record(Point(model, (), "fp32", 4, 1), "oom", error="CUDA out of memory"),
               _record(Point(model, (), "fp32", 8, 1), "skipped", error="not run: batch 4 ran out of memory")]
    path = write_records(tmp_path / "r.jsonl", records)
    frame = load_results(path)
    # Missing facts stay None, not NaN (which reads as true).
    for column in ("rate_search", "sustained", "converged", "launch_bound", "weights", "device_name"):
        assert all(v is None for v in frame.loc[frame["status"] != "ok", column]), column
    # The run's own verdict, a bool either way (200/s for 0.3 s: on a quiet machine, True).
    assert frame.loc[frame["load"] == "open", "sustained"].item() is open_loop_doc["measurement"]["load"]["sustained"]
    assert main(["report", str(path), "-o", str(tmp_path / "report")]) == 0
    tables = capsys.readouterr().out.split("\nreport:")[0]
    assert "latency_vs_load" in {p.stem for p in (tmp_path / "report").glob("*.png")}
    assert "not measured" in tables and "RuntimeError: boom" in tables
    assert "NaN" not in tables and "None" not in tables and "nan" not in tables


def test_series_label_of_a_point_without_instance_names_its_device(tmp_path):
    priced = write_records(tmp_path / "a.jsonl", [synthetic_record("m", 1, 1, "g5.xlarge", 100.0, [1.0] * 50)])
    unpriced = write_records(tmp_path / "b.jsonl", [synthetic_record("m", 2, 1, None, 100.0, [1.0] * 50)])
    frame = load_results(priced, unpriced)
    assert sorted(series_label(row) for _, row in frame.iterrows()) == ["cpu m fp32 1 thr", "g5.xlarge m fp32 1 thr"]


def test_report_leaves_a_point_without_latencies_out_of_the_distribution(tmp_path):
    records = [synthetic_record("m", b, 1, None, 100.0 * b, [0.5 * b] * 400) for b in (1, 2)]
    empty = synthetic_record("m", 4, 1, None, 0.0, [1.0])
    empty["result"] = _no_samples_doc("m", 4)
    frame = load_results(write_records(tmp_path / "r.jsonl", records + [empty]))
    none = Result(empty["result"])
    assert none.judged == "host" and none.judged_latency is None and none.judged_histogram is None
    assert math.isnan(parse_sla("p50<1ms").latency_ms(none))
    assert empty["key"] not in set(chosen_points(frame)["key"])
    with pytest.raises(ValueError, match=f"no point with key '{empty['key']}' has latencies to draw"):
        chosen_points(frame, [empty["key"]])
    report = write_report(frame, tmp_path / "report")
    assert "latency_distribution.png" in {p.name for p in report.figures}
    table = formatted(summary_table(frame))
    assert table.loc[table["batch"] == 4, ["p50", "p95"]].values.tolist() == [["-", "-"]]


def test_open_loop_judges_response_time(open_loop_doc):
    result = Result(open_loop_doc)
    assert result.judged == "response"
    assert result.judged_latency == result.response_latency != result.latency
    assert result.judged_histogram is result.response_histogram


def test_repr_shows_an_unstated_percentile_as_a_dash():
    # 50 samples state p50 but not p99 (it needs 299).
    text = repr(Result(synthetic_record("m", 1, 2, None, 10.0, [2.0] * 50)["result"]))
    assert re.search(r"p50 2\.00\d ms, p99 -,", text) and "nan" not in text, text


@pytest.mark.parametrize("flags, named", [
    (["--sla", "p99<5ms"], "--sla"),
    (["--rate-precision", "0.1"], "--rate-precision"),
    (["--find-rate", "--sla", "p99<5ms", "--rate", "10"], "--rate"),
    (["--find-rate", "--sla", "p99<5ms", "--ci", "0.02"], "--ci"),
    (["--find-rate", "--sla", "p99<5ms", "--duration", "1"], "--duration"),
    (["--find-rate", "--sla", "p99<5ms", "--requests", "10"], "--requests"),
    (["--find-rate", "--sla", "p99<5ms", "--ci-percentile", "99"], "--ci-percentile"),
    (["--find-rate", "--sla", "p99<5ms", "--min-duration", "1"], "--min-duration"),
    (["--find-rate"], "--sla"),
])
def test_flags_that_do_not_apply_are_refused(spin, capsys, flags, named):
    assert main(["run", str(spin), *flags]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("infermeter: ") and named in captured.err and captured.out == ""


def test_a_bad_sla_is_refused_before_the_search_starts(spin, capsys):
    assert main(["run", str(spin), "--find-rate", "--sla", "p99 under 5ms"]) == 2
    captured = capsys.readouterr()
    assert "is not of the form" in captured.err and "searching" not in captured.out


def _interrupt_nth_child(monkeypatch, nth: int, after_s: float) -> None:
    """Ctrl-C `after_s` after the `nth` repeat's fresh process starts: SIGINT
    to that process and to this one, as a terminal sends it to both."""
    real = fresh_process.subprocess.Popen
    started = []

    def popen(*args, **kwargs):
        child = real(*args, **kwargs)
        started.append(child)
        if len(started) == nth:
            def press():
                os.kill(child.pid, signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
            threading.Timer(after_s, press).start()
        return child

    monkeypatch.setattr(fresh_process.subprocess, "Popen", popen)


def test_ctrl_c_during_repeats_exits_130_whichever_run_is_reported(spin, monkeypatch, tmp_path, capsys):
    # Ctrl-C lands in the third run's fresh process: the two finished runs are
    # summarised alone (a run cut short would skew their spread).
    _interrupt_nth_child(monkeypatch, nth=3, after_s=0.5)
    out = tmp_path / "r.json"
    assert main(["run", str(spin), "--repeat", "3", "--warmup", "1", "--duration", "0.3", "--no-calibrate",
                 "--json", str(out)]) == 130
    doc = json.loads(out.read_text())
    assert doc["repeats"]["count"] == 2 and all(run["requests"] > 0 for run in doc["repeats"]["runs"])
    assert doc["measurement"]["interrupted"] is False  # the reported run finished
    assert "result written to" in capsys.readouterr().out


def test_ctrl_c_during_a_rate_search_keeps_its_finished_steps(spin, monkeypatch, tmp_path, capsys):
    # Runs: the closed-loop probe, the first step, then Ctrl-C in the second step.
    _interrupt_engine_run(monkeypatch, nth=3, after_s=0.3)
    out = tmp_path / "search.json"
    assert main(["run", str(spin), "--find-rate", "--sla", "p50<50ms", "--warmup", "0.05", "--json", str(out)]) == 130
    doc = json.loads(out.read_text())
    search = doc["rate_search"]
    assert search["interrupted"] is True and len(search["steps"]) == 1
    assert search["steps"][0]["meets"] is True  # half the capacity of a 1 ms model meets 50 ms
    assert doc["best_result"]["measurement"]["load"]["kind"] == "open"
    text = capsys.readouterr().out
    assert "so far (interrupted after 1 step(s))" in text and "search written to" in text


def test_find_rate_refuses_a_percentile_no_step_can_state(spin):
    sla = parse_sla("p99.99<50ms")
    steps = []
    # p99.99 needs about 30k samples; 0.3 s steps at half of ~1000 requests/s collect about 150.
    with pytest.raises(ValueError, match=rf"p99.99 needs at least {sla.min_samples} samples, and a step collects"):
        find_rate(spin, sla=sla, min_step_s=0.3, max_step_s=0.3, warmup=0.05, calibrate=False, on_step=steps.append)
    assert steps == []


def test_compare_prints_formatted_figures(tmp_path, capsys):
    latencies = [1.0 + i * 0.0123 for i in range(200)]
    a = write_records(tmp_path / "a.jsonl", [synthetic_record("m", 1, 1, "g4dn.xlarge", 123.456, latencies)])
    b = write_records(tmp_path / "b.jsonl", [synthetic_record("m", 1, 1, "g5.xlarge", 234.567, latencies)])
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "123.5" in out and "234.6" in out and "123.46" not in out
    assert f"{format_duration_ms(load_results(a)['p95_ms'].item())} " in out  # 3.33 ms, not 3.3337


def test_model_files_are_labelled_by_name(tmp_path):
    records = [synthetic_record(f"/models/m{suffix}", 1, 1, None, 10.0, [1.0]) for suffix in (".pt", ".pt2")]
    frame = load_results(write_records(tmp_path / "r.jsonl", records))
    assert sorted(frame["model"]) == ["m.pt", "m.pt2"]


@pytest.mark.parametrize("ns", [0, 999, 999.6, 12_345, 999_500, 1.5e9, 3.6e12])
def test_plot_axes_take_the_unit_the_tables_print(ns):
    unit, scale = duration_unit(ns)
    assert format_duration_ns(ns).endswith(f" {unit}") and scale == {"ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}[unit]
