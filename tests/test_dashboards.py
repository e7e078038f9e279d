"""Results in CI benchmark dashboards' formats, read back the way each
dashboard reads them.

The readers below mirror the consumers' own parsing, since none of them is
installable here: github-action-benchmark is a GitHub Action (TypeScript,
not published to a registry; src/extract.ts: extractGoogleCppResult and
extractCustomBenchmarkResult, src/extractRangeInfo.ts) and Bencher's adapters
are Rust (lib/bencher_adapter/src/adapters/cpp/google.rs and util.rs). BMF is
also validated against Bencher's published JSON Schema (bencher.dev/bmf.json)
with the jsonschema package."""

from __future__ import annotations

import json
import math
import re
import statistics

import pytest

import infermeter
from infermeter.cli import main
from infermeter.dashboards import render, result_name, to_bencher, to_github_action_benchmark, to_google_benchmark
from infermeter.known_latency import spin_model
from infermeter.result import Result
from infermeter.sweep.grid import Point
from infermeter.sweep.store import RECORD_SCHEMA

from sweep_helpers import write_records

SPIN_NS = 100_000
# Short runs, with windows narrow enough for a throughput interval (it needs 7 of them).
RUN = {"duration": 0.3, "warmup": 0, "calibrate": False, "window": 0.02}


@pytest.fixture(scope="module")
def spin(tmp_path_factory):
    return spin_model(tmp_path_factory.mktemp("dashboards") / "spin.pt", SPIN_NS)


@pytest.fixture(scope="module")
def closed(spin):
    return infermeter.benchmark(spin, **RUN)


@pytest.fixture(scope="module")
def repeated(spin):
    return infermeter.benchmark(spin, repeat=3, **RUN | {"duration": 0.1})


@pytest.fixture(scope="module")
def open_loop(spin):
    return infermeter.benchmark(spin, load="open", rate=3000, **RUN)


@pytest.fixture(scope="module")
def batching(spin):
    return infermeter.benchmark(spin, load="dynamic-batching", rate=3000, max_batch=4, max_queue_delay=0.0005,
                                **RUN | {"duration": 0.2})


def strict_json(text: str):
    """JSON as JavaScript's JSON.parse and serde read it: NaN or Infinity is an error."""
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


# github-action-benchmark --------------------------------------------------------------------------------------------

def googlecpp_extract(doc: dict) -> list[dict]:
    """extractGoogleCppResult: every entry of benchmarks[], aggregates included."""
    return [{"name": b["name"], "value": b["real_time"], "unit": b["time_unit"] + "/iter",
             "extra": f"iterations: {b['iterations']}\ncpu: {b['cpu_time']} {b['time_unit']}\nthreads: {b['threads']}"}
            for b in doc["benchmarks"]]


def custom_extract(entries: list) -> list[dict]:
    """extractCustomBenchmarkResult plus what storing and charting an entry
    needs: a name, a finite number and a unit; range and extra, when
    given, strings (a "±" range is parsed as extractRangeInfo does)."""
    out = []
    for e in entries:
        assert isinstance(e["name"], str) and e["name"] and isinstance(e["unit"], str) and e["unit"]
        assert isinstance(e["value"], (int, float)) and math.isfinite(e["value"])
        assert all(isinstance(e[k], str) for k in ("range", "extra") if k in e)
        match = re.match(r"(?P<prefix>(\+-|±)\s*)(?P<value>\d.+)", e.get("range", ""))
        out.append({k: e.get(k) for k in ("name", "value", "unit", "range", "extra")}
                   | {"range_value": float(match["value"]) if match else None})
    return out


# Bencher ------------------------------------------------------------------------------------------------------------

BENCHER_NS_PER_UNIT = {"ps": 1e-3, "ns": 1.0, "\u03bcs": 1e3, "\u00b5s": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
BMF_SCHEMA = {"type": "object", "patternProperties": {".+": {"type": "object", "patternProperties": {".+": {
    "type": "object", "properties": {"value": {"type": "number"}, "lower_value": {"type": "number"},
                                     "upper_value": {"type": "number"}}, "required": ["value"]}}}}}


def bencher_cpp_google(doc: dict) -> dict[str, float]:
    """AdapterCppGoogle: context.caches a list; per benchmark a name (1 to
    1024 bytes), real_time and time_unit, as latency in ns, the last entry of a
    name winning."""
    assert isinstance(doc["context"]["caches"], list)
    latency = {}
    for b in doc["benchmarks"]:
        assert 0 < len(b["name"].encode()) <= 1024
        latency[b["name"]] = float(b["real_time"]) * BENCHER_NS_PER_UNIT[b["time_unit"]]
    return latency


def bencher_bmf(doc: dict) -> dict:
    """The json adapter: the schema, names and measure slugs within Bencher's
    limits, and each metric's bounds around its value."""
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, BMF_SCHEMA)
    for name, measures in doc.items():
        assert 0 < len(name.encode()) <= 1024
        for slug, metric in measures.items():
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) and len(slug) <= 64
            assert metric.get("lower_value", metric["value"]) <= metric["value"] <= metric.get("upper_value",
                                                                                                 metric["value"])
    return doc


def p50_ns(result: Result) -> int:
    """The judged latency's median as the document states it."""
    return result.to_dict()["latency"][result.judged]["p50_ns"]


# Names --------------------------------------------------------------------------------------------------------------

def test_names_say_the_configuration(closed, open_loop, batching):
    assert result_name(closed) == "spin.pt|torchscript|cpu|t1|b1"
    assert result_name(open_loop) == "spin.pt|torchscript|cpu|t1|b1|r3000"
    assert result_name(batching) == "spin.pt|torchscript|cpu|t1|max_batch=4|max_queue_delay=0.0005|b1|" \
                                    "dynamic-batching|r3000"


# Google Benchmark ---------------------------------------------------------------------------------------------------

def test_google_benchmark_as_its_readers_see_it(closed, open_loop):
    doc = strict_json(render("google-benchmark", [("closed", closed), ("open", open_loop)]))
    context = doc["context"]
    assert context["executable"] == "infermeter" and context["library_build_type"] == "release"
    assert context["num_cpus"] == closed.environment["cpu_count"] and context["caches"] == []
    assert context["date"] == closed.environment["timestamp"] and context["torch_version"]

    [closed_entry, open_entry] = doc["benchmarks"]
    p50_us = p50_ns(closed) / 1e3
    assert googlecpp_extract(doc)[0] == {"name": "closed", "value": p50_us, "unit": "us/iter",
                                         "extra": f"iterations: {closed.requests}\ncpu: {p50_us} us\nthreads: 1"}
    assert bencher_cpp_google(doc) == {"closed": pytest.approx(p50_ns(closed)),
                                       "open": pytest.approx(p50_ns(open_loop))}
    assert closed_entry | {"run_type": "iteration", "repetitions": 1, "repetition_index": 0} == closed_entry
    assert closed_entry["items_per_second"] == closed.inferences_per_s
    assert closed_entry["p99_us"] == pytest.approx(closed.latency.p99 * 1e3)
    assert closed_entry["host_peak_rss_bytes"] == closed.memory.host_peak_rss
    # In an open loop the headline is response time: what the load's clients saw, queueing included.
    assert open_loop.judged == "response" and open_entry["real_time"] == p50_ns(open_loop) / 1e3


def test_repeated_result_has_its_runs_and_their_aggregates(repeated):
    doc = strict_json(render("google-benchmark", [("r", repeated)]))
    runs, summary = repeated.repeats["runs"], repeated.repeats
    iterations = [b for b in doc["benchmarks"] if b["run_type"] == "iteration"]
    aggregates = {b["aggregate_name"]: b for b in doc["benchmarks"] if b["run_type"] == "aggregate"}
    assert [(b["name"], b["repetition_index"], b["iterations"]) for b in iterations] == \
        [("r", i, run["requests"]) for i, run in enumerate(runs)]
    assert [b["real_time"] for b in iterations] == [run["p50_ns"] / 1e3 for run in runs]
    # Memory is measured in the run the document is, and stated there alone.
    assert [("host_peak_rss_bytes" in b) for b in iterations] == [i == summary["reported_run"] for i in range(3)]

    assert list(aggregates) == ["mean", "median", "stddev", "cv"]
    assert {b["name"] for b in aggregates.values()} == {"r_mean", "r_median", "r_stddev", "r_cv"}
    assert all(b["run_name"] == "r" and b["iterations"] == 3 for b in aggregates.values())
    assert aggregates["cv"]["aggregate_unit"] == "percentage" and aggregates["mean"]["aggregate_unit"] == "time"
    # The engine's own repeat summary, computed the same way (sample stddev).
    assert aggregates["mean"]["real_time"] == pytest.approx(summary["p50_ns"]["mean"] / 1e3)
    assert aggregates["stddev"]["real_time"] == pytest.approx(summary["p50_ns"]["stddev"] / 1e3)
    assert aggregates["cv"]["real_time"] == pytest.approx(summary["p50_ns"]["cv"])
    assert aggregates["cv"]["items_per_second"] == pytest.approx(summary["inferences_per_s"]["cv"])
    assert aggregates["median"]["items_per_second"] == statistics.median(r["inferences_per_s"] for r in runs)
    assert "host_peak_rss_bytes" not in aggregates["mean"]
    assert len(googlecpp_extract(doc)) == 7


# github-action-benchmark custom lists ------------------------------------------------------------------------------

def test_custom_lists_as_github_action_benchmark_reads_them(closed, open_loop):
    named = [("closed", closed), ("open", open_loop)]
    bigger = custom_extract(strict_json(render("github-action-benchmark-bigger", named)))
    assert [(e["name"], e["unit"], e["value"]) for e in bigger] == [
        ("closed - throughput", "inferences/s", closed.inferences_per_s),
        ("open - throughput", "inferences/s", open_loop.inferences_per_s)]
    interval = closed.to_dict()["measurement"]["throughput_ci"]
    assert bigger[0]["range_value"] == pytest.approx(
        (interval["hi_inferences_per_s"] - interval["lo_inferences_per_s"]) / 2, rel=1e-5)
    assert "closed loop" in bigger[0]["extra"] and "open loop, 3000 requests/s (poisson)" in bigger[1]["extra"]

    smaller = {e["name"]: e for e in custom_extract(to_github_action_benchmark(named, bigger_is_better=False))}
    assert set(smaller) == {f"{n} - {m}" for n in ("closed", "open") for m in ("p50 latency", "p99 latency",
                                                                              "host peak rss")}
    p99 = smaller["closed - p99 latency"]
    assert (p99["unit"], p99["value"]) == ("ms", pytest.approx(closed.latency.p99))
    lo, hi = (float(v) for v in p99["range"].strip("[]").split(", "))
    assert lo <= p99["value"] <= hi
    assert smaller["open - p50 latency"]["value"] == pytest.approx(open_loop.response_latency.p50)
    assert smaller["closed - host peak rss"]["value"] == closed.memory.host_peak_rss / 2**20


@pytest.mark.parametrize("half_width", [0.0, 5.0, 0.25, 1234.5])
def test_throughput_range_is_read_back_at_any_width(closed, half_width):
    """A spin model's windows can all count the same, and the interval is 0
    wide: "± 0" would fail the action's /\\d.+/ and the range be dropped."""
    doc = closed.to_dict()
    value = closed.inferences_per_s
    doc["measurement"]["throughput_ci"] |= {"lo_inferences_per_s": value - half_width,
                                           "hi_inferences_per_s": value + half_width}
    (entry,) = custom_extract(to_github_action_benchmark([("w", Result(doc))], bigger_is_better=True))
    assert entry["range_value"] == pytest.approx(half_width, abs=1e-9, rel=1e-5)


# Bencher Metric Format ---------------------------------------------------------------------------------------------

def test_bencher_metric_format(closed, open_loop, batching):
    doc = bencher_bmf(strict_json(render("bencher", [("c", closed), ("o", open_loop), ("d", batching)])))
    assert set(doc["c"]) == {"throughput", "latency", "p99-latency", "host-peak-rss"}
    interval = closed.to_dict()["measurement"]["throughput_ci"]
    assert doc["c"]["throughput"] == {"value": closed.inferences_per_s,
                                      "lower_value": interval["lo_inferences_per_s"],
                                      "upper_value": interval["hi_inferences_per_s"]}
    # Bencher's built-in latency measure is in nanoseconds.
    assert doc["c"]["latency"]["value"] == p50_ns(closed) and doc["o"]["latency"]["value"] == p50_ns(open_loop)
    assert doc["d"]["p99-latency"]["value"] == batching.to_dict()["latency"]["response"]["p99_ns"]


def test_device_memory_and_energy_go_to_every_format(closed):
    """A GPU run states device memory and NVML energy: this CPU run's document is given them."""
    doc = closed.to_dict()
    doc["memory"]["device_process_peak_bytes"] = 3 * 2**30
    doc["energy"] |= {"gpu": {"joules": 12.0, "mean_watts": 40.0, "joules_per_inference": 0.004,
                              "inferences_per_kwh": 9e8, "note": None}}
    named = [("gpu", Result(doc))]
    bmf = bencher_bmf(to_bencher(named))["gpu"]
    assert bmf["device-peak-memory"] == {"value": 3 * 2**30} and bmf["gpu-joules-per-inference"] == {"value": 0.004}
    entry = to_google_benchmark(named)["benchmarks"][0]
    assert entry["device_peak_memory_bytes"] == 3 * 2**30 and entry["gpu_joules_per_inference"] == 0.004
    smaller = {e["name"]: e for e in to_github_action_benchmark(named, bigger_is_better=False)}
    assert smaller["gpu - device peak memory"] | {"unit": "MiB", "value": 3072.0} == smaller["gpu - device peak memory"]
    assert (smaller["gpu - gpu joules per inference"]["value"], smaller["gpu - gpu joules per inference"]["unit"]) \
        == (0.004, "J")


def test_what_cannot_be_converted_is_refused(spin, closed):
    with pytest.raises(ValueError, match="no results"):
        to_bencher([])
    with pytest.raises(ValueError, match="more than one result named a"):
        to_bencher([("a", closed), ("a", closed)])
    with pytest.raises(ValueError, match="unknown dashboard format 'csv'"):
        render("csv", [("a", closed)])
    few = infermeter.benchmark(spin, requests=3, duration=None, warmup=0, calibrate=False)
    with pytest.raises(ValueError, match="3 request.s. cannot state a median latency"):
        to_bencher([("few", few)])
    doc = closed.to_dict()
    doc["measurement"] |= {"outcome": "no_samples", "no_samples_cause": "stopped before any request completed"}
    doc["latency"]["host"] = None
    with pytest.raises(ValueError, match="none: no request was measured .stopped before"):
        to_google_benchmark([("none", Result(doc))])


# The command line ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["google-benchmark", "bencher"])
def test_run_writes_a_dashboard_format_with_json(spin, tmp_path, capsys, fmt):
    out = tmp_path / "r.json"
    assert main(["run", str(spin), "--duration", "0.2", "--warmup", "0", "--no-calibrate", "--format", fmt,
                 "--json", str(out)]) == 0
    assert f"result written to {out} ({fmt})" in capsys.readouterr().out
    doc = strict_json(out.read_text())
    name = "spin.pt|torchscript|cpu|t1|b1"
    if fmt == "bencher":
        assert list(bencher_bmf(doc)) == [name]
    else:
        assert list(bencher_cpp_google(doc)) == [name] and googlecpp_extract(doc)[0]["unit"] == "us/iter"


@pytest.mark.parametrize("extra, message", [
    ([], "--format bencher says what --json writes: give --json PATH"),
    (["--json", "{tmp}/r.json", "--find-rate", "--sla", "p99<5ms"], "a rate search writes its own document"),
    (["--json", "{tmp}/missing/r.json"], "cannot be written: its folder"),
])
def test_run_format_errors_before_measuring(spin, tmp_path, capsys, extra, message):
    args = ["run", str(spin), "--warmup", "0", "--no-calibrate", "--format", "bencher"]
    assert main(args + [a.format(tmp=tmp_path) for a in extra]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("infermeter: ") and message in captured.err and "throughput" not in captured.out


def sweep_record(point: Point, result: Result | None, status: str = "ok") -> dict:
    """A results record as a sweep stores it, around a real result."""
    return {"schema": RECORD_SCHEMA, "key": point.key, "series": point.series, "point": point.to_dict(),
            "sweep": {"name": "dash", "settings": {"device": "cpu"}}, "instance": None, "status": status,
            "error": None if status == "ok" else "CUDA out of memory", "result": result and result.to_dict()}


@pytest.fixture
def sweep(tmp_path, closed, open_loop):
    folder = tmp_path / "sweep"
    closed_point, open_point = Point("spin.pt", (), "as-exported", 1, 1), Point("spin.pt", (), "as-exported", 1, 1,
                                                                               rate=3000.0)
    write_records(folder, [sweep_record(closed_point, closed), sweep_record(open_point, open_loop),
                           sweep_record(Point("spin.pt", (), "as-exported", 64, 1), None, "oom")])
    return folder


def test_dashboard_converts_sweeps_ok_points_and_result_files(sweep, batching, tmp_path, capsys):
    result_file = tmp_path / "batching.json"
    batching.save(result_file)
    out = tmp_path / "bmf.json"
    assert main(["dashboard", str(sweep), str(result_file), "--format", "bencher", "-o", str(out)]) == 0
    assert f"3 result(s) written to {out} (bencher)" in capsys.readouterr().out
    assert list(bencher_bmf(strict_json(out.read_text()))) == [
        "spin.pt||as-exported|t1|b1", "spin.pt||as-exported|t1|b1|r3000", result_name(batching)]

    gb = tmp_path / "gb.json"
    assert main(["dashboard", str(sweep / "results.jsonl"), "--format", "google-benchmark", "-o", str(gb)]) == 0
    assert [b["family_index"] for b in strict_json(gb.read_text())["benchmarks"]] == [0, 1]
    smaller = tmp_path / "smaller.json"
    assert main(["dashboard", str(sweep), "--format", "github-action-benchmark-smaller", "-o", str(smaller)]) == 0
    assert len(custom_extract(strict_json(smaller.read_text()))) == 6  # p50, p99 and host peak RSS of each point


def test_dashboard_errors_are_one_line(sweep, closed, tmp_path, capsys):
    only_oom = tmp_path / "oom"
    write_records(only_oom, [sweep_record(Point("spin.pt", (), "as-exported", 64, 1), None, "oom")])
    not_result = tmp_path / "other.json"
    not_result.write_text('{"rate_search": {}}')
    result_file = tmp_path / "closed.json"
    closed.save(result_file)
    cases = [
        ([str(only_oom), "-o", str(tmp_path / "x.json")], "no measured result in"),
        ([str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.json")], "no results at"),
        ([str(not_result), "-o", str(tmp_path / "x.json")], f"{not_result}: not an infermeter result"),
        ([str(sweep), "-o", str(tmp_path / "missing" / "x.json")], "cannot be written: its folder"),
        ([str(sweep), "-o", str(tmp_path)], "is a directory"),
        ([str(result_file), "-o", str(result_file)], "is an input of this run"),
        ([str(result_file), str(result_file), "-o", str(tmp_path / "x.json")], "more than one result named"),
    ]
    for args, message in cases:
        assert main(["dashboard", "--format", "bencher", *args]) == 2, message
        err = capsys.readouterr().err
        assert err.startswith("infermeter: ") and message in err and err.count("\n") == 1, err
    assert Result.load(result_file).to_dict() == closed.to_dict()  # the input was not overwritten


def test_unknown_format_is_a_usage_error(closed, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["dashboard", str(tmp_path), "--format", "csv", "-o", str(tmp_path / "x.json")])
    assert stopped.value.code == 2 and "invalid choice: 'csv'" in capsys.readouterr().err
