"""Reports: files written, and the HTML page rendered by a real browser
(Debian's chromium through chromedriver, which `make test` installs)."""

import csv
import shutil

import pytest

from infermeter import load_results
from infermeter.cli import main
from infermeter.report import write_report
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
    assert "| resnet50 |" in (report.folder / "summary.md").read_text()
    assert "g5.xlarge" in report.terminal


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
