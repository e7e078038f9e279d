"""infermeter-bench: same engine and schema as Python, plus an interval log."""

import json
import subprocess

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from infermeter import Result, benchmark


def run_binary(binary, *args, check=True):
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=120, check=check)


def key_paths(doc, prefix=""):
    if isinstance(doc, dict):
        return {p for k, v in doc.items() for p in key_paths(v, f"{prefix}/{k}") | {f"{prefix}/{k}"}}
    return set()


def test_same_schema_and_comparable_numbers(bench_binary, matmul_model, tmp_path):
    """One engine behind both front ends: the same document, and figures that
    agree within the run-to-run noise. One run of each is not enough to say
    that on a shared 2-core machine (one run's figure moves 6-20% from run to
    run there, docs/intervals.md), so the two are measured in turn, three
    runs each, and their medians compared."""
    natives, pythons = [], []
    for i in range(3):
        out, hlog = tmp_path / f"native{i}.json", tmp_path / f"native{i}.hlog"
        proc = run_binary(bench_binary, matmul_model, "--batch-size", 4, "--threads", 2, "--warmup", 0.3,
                          "--duration", 0.8, "--json", out, "--hlog", hlog)
        assert "throughput" in proc.stdout
        natives.append(Result.load(out))
        pythons.append(benchmark(matmul_model, batch_size=4, threads=2, warmup=0.3, duration=0.8))
    native, python = natives[0], pythons[0]
    # Python adds a few facts of its own to the environment; nothing else differs.
    extra = {"/environment/python_version", "/environment/torch_build"}
    assert key_paths(native.to_dict()) == key_paths(python.to_dict()) - extra
    assert native.config == python.config
    assert native.model["inputs"] == python.model["inputs"]
    assert native.environment["front_end"] == "infermeter-bench"

    def median(results, read):
        return sorted(read(r) for r in results)[1]

    for read in (lambda r: r.inferences_per_s, lambda r: r.latency.p50):
        assert median(natives, read) == pytest.approx(median(pythons, read), rel=0.35)


def test_interval_log_reads_with_hdrhistogram(bench_binary, linear_model, tmp_path):
    hlog, out = tmp_path / "run.hlog", tmp_path / "run.json"
    run_binary(bench_binary, linear_model, "--duration", 0.3, "--warmup", 0.1, "--no-calibrate",
               "--hlog", hlog, "--json", out)
    reader = HistogramLogReader(str(hlog), HdrHistogram(1, 3_600_000_000_000, 3))
    interval = reader.get_next_interval_histogram()
    result = json.loads(out.read_text())
    assert interval.get_total_count() == result["measurement"]["requests"] > 0
    assert interval.get_value_at_percentile(99) == result["latency"]["host"]["p99_ns"]
    assert reader.get_next_interval_histogram() is None
    assert result["calibration"] is None


def test_requests_flag_without_duration_runs_until_count(bench_binary, linear_model, tmp_path):
    out = tmp_path / "r.json"
    run_binary(bench_binary, linear_model, "--requests", 321, "--warmup", 0, "--no-calibrate", "--json", out)
    doc = json.loads(out.read_text())
    assert doc["measurement"]["requests"] == 321 and doc["config"]["duration_s"] is None


def test_help_documents_every_flag(bench_binary):
    text = run_binary(bench_binary, "--help").stdout
    for flag in ("--batch-size", "--threads", "--device", "--replicas", "--warmup", "--warmup-min-requests",
                 "--duration", "--requests", "--window", "--seed", "--json", "--hlog", "--load-library",
                 "--no-calibrate"):
        assert flag in text


@pytest.mark.parametrize("args, message", [
    (["--bogus", "1", "m.pt"], "unknown option --bogus"),
    (["m.pt", "--threads", "two"], "threads expects an integer, got 'two'"),
    (["m.pt", "--duration"], "--duration needs a value"),
    ([], "no model given"),
    (["m.pt", "--threads", "99999999999999999999"], "threads is out of range, got '99999999999999999999'"),
    (["m.pt", "--seed", "1.5"], "seed expects an integer, got '1.5'"),
])
def test_bad_flags_give_usage_errors(bench_binary, args, message):
    proc = run_binary(bench_binary, *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "usage:" in proc.stderr


@pytest.mark.parametrize("args, message, code", [
    (["missing.pt"], "model file not found: 'missing.pt'", 1),
    (["{model}", "--threads", "0"], "threads must be >= 1", 2),
    (["{model}", "--batch-size", "-2"], "batch_size must be >= 1", 2),
    (["{model}", "--device", "quantum"], "device must be cpu or cuda:N, got 'quantum'", 2),
    (["{model}", "--replicas", "many"], "replicas must be one of per-thread, shared, per-thread-load, got 'many'", 2),
    (["{model}", "--threads", "4294967297"], "threads must be >= 1 and at most 1024", 2),  # not wrapped to 1
    (["{model}", "--seed", "-1"], "seed must be >= 0", 2),
    (["{model}", "--load-library", "/nowhere/libtorchneuron.so"],
     "cannot load operator library '/nowhere/libtorchneuron.so': /nowhere/libtorchneuron.so: cannot open", 2),
])
def test_runtime_errors_are_one_line(bench_binary, linear_model, args, message, code):
    proc = run_binary(bench_binary, *[a.format(model=linear_model) for a in args], "--no-calibrate", check=False)
    assert proc.returncode == code
    assert proc.stderr.strip() == f"infermeter-bench: {proc.stderr.strip().split(': ', 1)[1]}"
    assert message in proc.stderr and proc.stderr.count("\n") == 1


def test_operator_libraries_load_before_the_model(bench_binary, linear_model):
    import ctypes.util

    zlib = ctypes.util.find_library("z")
    proc = run_binary(bench_binary, linear_model, "--load-library", zlib, "--requests", 20, "--warmup", 0,
                      "--no-calibrate")
    assert "requests     20 in" in proc.stdout
