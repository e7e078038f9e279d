"""Reports: files written, and the HTML page rendered by a real browser
(Debian's chromium through chromedriver, which `make test` installs)."""

import csv
import shutil

import numpy as np
import pytest

from infermeter import load_results
from infermeter.cli import main
from infermeter.report import write_report
from infermeter.report.plots import throughput_timeline
from infermeter.result import Result
from infermeter.units import format_duration_ns
from sweep_helpers import synthetic_record, write_records

BATCHES = [1, 2, 4, 8, 16, 32]


def _sweep(path, instance, scale):
    return write_records(path, [synthetic_record("resnet50", b, t, instance, thr * scale * t ** 0.5,
                                                 [b * 0.8 + i * 0.01 for i in range(200)])
                                for t in (1, 2) for b, thr in zip(BATCHES, [100, 190, 350, 600, 640, 650])])


@pytest.fixture
def report(tmp_path):
    paths = _sweep(tmp_path / "a.jsonl", "g4dn.xlarge", 1.0), _sweep(tmp_path / "b.jsonl", "g5.xlarge", 2.5)
    return write_report(load_results(*paths), tmp_path / "report")


def test_report_files(report):
    names = {p.name for p in report.figures}
    assert names == {"throughput_vs_latency.png", "throughput_vs_batch.png", "latency_vs_batch.png",
                     "cost_vs_batch.png", "latency_distribution.png", "throughput_over_time.png"}
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in report.figures)
    rows = list(csv.DictReader((report.folder / "summary.csv").open()))
    assert len(rows) == 24
    g5 = next(r for r in rows if r["instance"] == "g5.xlarge" and r["batch"] == "8" and r["threads"] == "1")
    # g5 is 2.5x faster at 1.006/0.526 the price.
    assert float(g5["cost vs baseline"]) == pytest.approx((1.006 / 2.5) / 0.526)
    assert g5["runner"] == "torchscript"  # results without config.runner ran TorchScript
    # batch 8: 200 requests of 6.4 ms + 0.01 ms x i, so p95 is about 6.4 + 1.89 ms
    assert g5["priced as"] == "whole instance" and float(g5["p95 ms"]) == pytest.approx(8.29, abs=0.01)
    markdown = (report.folder / "summary.md").read_text()
    assert "| resnet50 |" in markdown and "runner" in markdown.splitlines()[0]
    assert "g5.xlarge" in report.terminal and "8.29 ms" in report.terminal


def test_report_page_renders_in_chromium(report, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser and driver_path, "install Debian's chromium and chromium-driver (make test does)"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(report.html.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        assert len(images) == len(report.figures)
        assert all(done and width > 300 and height > 200 for done, width, height in images), images
        assert driver.execute_script("return document.querySelectorAll('table.summary tbody tr').length") == 24
        knees = driver.execute_script("return Array.from(document.querySelectorAll('li')).map(l => l.innerText)")
        assert len(knees) == 4 and all(k.endswith(": batch 8") for k in knees), knees
    finally:
        driver.quit()


def test_report_command(tmp_path, capsys):
    path = _sweep(tmp_path / "a.jsonl", "g4dn.xlarge", 1.0)
    assert main(["report", str(path), "-o", str(tmp_path / "r")]) == 0
    assert "report.html" in capsys.readouterr().out and (tmp_path / "r" / "report.html").is_file()
    assert main(["report", str(tmp_path / "nothing"), "-o", str(tmp_path / "r2")]) == 2
    assert "no sweep results at" in capsys.readouterr().err


def test_report_shows_each_points_runner(tmp_path):
    records = [synthetic_record("resnet50", b, 1, "g5.xlarge", 100.0 * b, [0.003] * 50) for b in (1, 2)]
    records[1]["result"]["config"]["runner"] = "cuda-graph"
    report = write_report(load_results(write_records(tmp_path / "r.jsonl", records)), tmp_path / "report")
    rows = list(csv.DictReader((report.folder / "summary.csv").open()))
    assert {r["batch"]: r["runner"] for r in rows} == {"1": "torchscript", "2": "cuda-graph"}
    assert "3.00 µs" in report.terminal and "0.003" not in report.terminal  # 3 µs requests read as such


@pytest.mark.parametrize("ns, shown", [(0, "0 ns"), (999, "999 ns"), (999.6, "1.00 µs"), (3_000, "3.00 µs"),
                                       (12_345, "12.3 µs"), (999_500, "1.00 ms"), (1_234_567, "1.23 ms"),
                                       (123_456_789, "123 ms"), (1.5e9, "1.50 s"), (3.6e12, "3600 s")])
def test_durations_keep_three_significant_digits(ns, shown):
    assert format_duration_ns(ns) == shown


def test_duration_rejects_what_is_not_one():
    for bad in (-1, float("nan"), None):
        with pytest.raises(ValueError, match="non-negative number of nanoseconds"):
            format_duration_ns(bad)


def test_throughput_timeline_merges_windows_until_counts_are_not_noise():
    # 60 inferences/s (batch 1) for 10 s in 100 ms windows: 6 completions a window on average, Poisson.
    rng = np.random.default_rng(0)
    counts = rng.poisson(6, size=100)
    t, rate = throughput_timeline(counts, 0.1, batch_size=1)
    k = int(np.ceil(30 / counts.mean()))
    assert len(t) == int(np.ceil(100 / k)) and t[0] == pytest.approx(k * 0.1 / 2)
    widths = np.minimum(k, 100 - np.arange(0, 100, k)) * 0.1
    merged = np.array([counts[i:i + k].sum() for i in range(0, 100, k)])
    assert rate == pytest.approx(merged / widths)
    assert np.sum(rate * widths) == pytest.approx(counts.sum())  # every completion is in exactly one bin
    assert merged[:-1].min() >= 20 and merged.mean() >= 30  # about 30 a point, not 1-3
    raw = counts / 0.1
    assert np.std(rate[:-1]) < np.std(raw) / 2  # merging k=5 windows cuts the noise by about sqrt(5)
    batched_t, batched = throughput_timeline(counts, 0.1, batch_size=8)
    assert batched == pytest.approx(rate * 8) and batched_t == pytest.approx(t)
    fast_t, fast = throughput_timeline([500] * 20, 0.1, batch_size=1)
    assert len(fast) == 20 and fast == pytest.approx(5000.0)  # busy windows stay as they are
    assert throughput_timeline([], 0.1, 1)[0].size == 0 and throughput_timeline([0, 0], 0.1, 1)[0].size == 0


def _result_doc(host):
    doc = {"schema": "infermeter.result/1", "model": {"path": "m.pt"},
           "config": {"device": "cpu", "batch_size": 1, "threads": 2, "replicas": "per-thread"},
           "measurement": {"requests": 0 if host is None else 10, "elapsed_s": 0.5, "interrupted": False,
                           "inferences_per_s": 0.0, "requests_per_s": 0.0},
           "latency": {"host": host, "launch": None, "device": None},
           "calibration": {"request_floor_ns": 270.4}}
    return doc


def test_result_summary_picks_units_and_reads_optional_keys():
    host = {"mean_ns": 3_100, "p50_ns": 3_000, "p90_ns": 3_500, "p95_ns": 4_000, "p99_ns": 12_345,
            "max_ns": 2_500_000}
    text = Result(_result_doc(host)).summary()
    assert "host         mean 3.10 µs  p50 3.00 µs  p90 3.50 µs  p95 4.00 µs  p99 12.3 µs  max 2.50 ms" in text
    assert "runner torchscript" in text and "harness      270 ns per request at least" in text
    assert "launch-bound" not in text and "stopped" not in text
    doc = _result_doc(None)
    doc["config"]["runner"] = "cuda-graph"
    doc["measurement"] |= {"outcome": "no_samples", "no_samples_cause": "one request takes longer than the run",
                           "stop": {"rule": {"rule": "duration", "duration_s": 0.5}, "reason": "duration reached"}}
    text = Result(doc).summary()
    assert "no samples: one request takes longer than the run" in text and "runner cuda-graph" in text
    assert "stopped      duration reached" in text
    doc["calibration"] = None
    doc["measurement"] |= {"requests": 10, "launch_bound": {"launch_p50_over_host_p50": 0.97, "launch_bound": True,
                                                            "remedy": "cuda-graph runner"}}
    doc["latency"]["host"] = host
    text = Result(doc).summary()
    assert "launch-bound: issuing kernels takes 97% of host p50" in text and "the cuda-graph runner removes it" in text


def test_summary_says_which_gpu_points_are_launch_bound(tmp_path):
    records = [synthetic_record("resnet50", b, 1, "g5.xlarge", 100.0 * b, [1.0] * 200) for b in (1, 8)]
    for record, bound in zip(records, (True, False)):
        record["result"]["measurement"]["launch_bound"] = {"launch_p50_over_host_p50": 0.95 if bound else 0.2,
                                                           "launch_bound": bound, "remedy": None}
    report = write_report(load_results(write_records(tmp_path / "r.jsonl", records)), tmp_path / "report")
    rows = list(csv.DictReader((report.folder / "summary.csv").open()))
    assert {r["batch"]: r["launch-bound"] for r in rows} == {"1": "True", "8": "False"}
    markdown = (report.folder / "summary.md").read_text().splitlines()
    assert "launch-bound" in markdown[0] and "| yes " in markdown[2] and "| no " in markdown[3]
    # Closed loops only: no load columns and no figure of latency against load.
    assert "load" not in rows[0] and "offered /s" not in rows[0]
    assert "latency_vs_load.png" not in {p.name for p in report.figures}
