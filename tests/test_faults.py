"""The fault matrix: each fault a user or a machine can throw at infermeter
gives a clear error or a recorded failure; the process survives, the engine's
threads are joined, and no measured point is lost.

Every test is one row of the matrix (`@row`); the table is printed at the end
of the run and kept in docs/faults.md, which test_docs_table_is_current holds
to it. Command-line errors run `infermeter.cli.main` in this process (its
exit code and stderr are what the shell sees); signals, file-size limits and
`infermeter-bench` run in child processes."""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.util
import io
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

from tqdm import tqdm

from file_limits import file_size_limit

from infermeter import EngineError, aoti_export, benchmark, compile_cache, export, save_torchscript
from infermeter.backends import BackendUnavailable
from infermeter.cli import main
from infermeter.cost import load_catalog
from infermeter.export import file_identity, written_since
from infermeter.input_spec import INPUT_SPEC_FILE, InputSpec, ModelInputs
from infermeter.options import check_value
from infermeter.report import write_report
from infermeter.report.formats import write_report_folder
from infermeter.sla import parse_sla
from infermeter.sweep import ConfigError, expand, load_config, run_sweep
from infermeter.sweep.grid import point_count
from infermeter.sweep.merge import merge
from infermeter.sweep.shard import parse_shard
from infermeter.sweep.store import ResultsFile, ResultsWriteError
from infermeter.torchscript_export import WriteError
from sweep_helpers import failing_model, synthetic_record, write_config, write_records
from tampered_package import rewritten
from infermeter.known_latency import FailsOnNthRequest

DOCS = Path(__file__).resolve().parents[1] / "docs" / "faults.md"
QUICK = dict(warmup=0.1, duration=0.2, calibrate=False)
SWEEP = dict(warmup=0.1, duration=0.2)  # per point
OOM_MESSAGE = "CUDA out of memory. Tried to allocate 20.00 GiB"

# ---------------------------------------------------------------- the matrix

ROWS: list[tuple[str, str, str, str]] = []  # (fault, interface, outcome, checked), in file order
ROW_OF_TEST: dict[str, int] = {}


def row(fault: str, interface: str, outcome: str, checked: str):
    """Declares the matrix row a test checks."""
    def mark(test):
        ROW_OF_TEST[test.__name__] = len(ROWS)
        ROWS.append((fault, interface, outcome, checked))
        return test
    return mark


def markdown_table(rows, extra: list[str] | None = None) -> str:
    head = ["fault", "interface", "outcome", "checked"] + (["test"] if extra else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(rows):
        lines.append("| " + " | ".join(list(r) + ([extra[i]] if extra else [])) + " |")
    return "\n".join(lines)


class _MatrixReport:
    """Collects each row's test outcomes and prints the table after the run."""

    def __init__(self):
        self.outcomes: dict[int, set[str]] = {}

    def pytest_runtest_logreport(self, report):
        index = ROW_OF_TEST.get(report.nodeid.split("::")[-1].split("[")[0])
        if index is None or (report.when != "call" and report.passed):
            return
        outcome = "xfail" if hasattr(report, "wasxfail") and report.skipped else report.outcome
        self.outcomes.setdefault(index, set()).add(outcome.replace("passed", "pass").replace("failed", "FAIL"))

    def pytest_terminal_summary(self, terminalreporter):
        results = [", ".join(sorted(self.outcomes.get(i, {"not run"}))) for i in range(len(ROWS))]
        terminalreporter.section("fault matrix")
        terminalreporter.write_line(markdown_table(ROWS, results))


@pytest.fixture(scope="module", autouse=True)
def fault_matrix(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("infermeter-fault-matrix"):
        manager.register(_MatrixReport(), "infermeter-fault-matrix")
    yield


# ------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def models(tmp_path_factory, linear_model) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fault_models")
    corrupt = folder / "corrupt.pt"
    corrupt.write_bytes(os.urandom(4096))
    # Scripted, so the stored input spec is not run at save time: a file whose
    # spec does not fit its model, as a hand-edited or mislabelled export would be.
    linear = torch.nn.Linear(16, 4)
    return {
        "linear": linear_model,
        "corrupt": corrupt,
        "shape": save_torchscript(linear, torch.rand(1, 5), folder / "shape.pt", method="script", input_names=["x"]),
        "dtype": save_torchscript(linear, torch.ones(1, 16, dtype=torch.int64), folder / "dtype.pt",
                                  method="script", input_names=["x"]),
        "nth": save_torchscript(FailsOnNthRequest(50), torch.rand(1, 16), folder / "nth.pt", method="script",
                                input_names=["x"]),
        "oom": failing_model(folder / "oom.pt", 4, OOM_MESSAGE),
    }


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@contextlib.contextmanager
def threads_joined():
    """No Python or native thread started in the block is left running. (A
    native thread of torch's own pools may end meanwhile: fewer is fine.)"""
    python_before, native_before = threading.active_count(), native_threads()

    def left_over() -> bool:
        return threading.active_count() > python_before or native_threads() > native_before

    yield
    deadline = time.monotonic() + 5
    while left_over() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left_over(), (f"threads left running: python {threading.active_count()} (was {python_before}), "
                             f"native {native_threads()} (was {native_before})")


@pytest.fixture(scope="module", autouse=True)
def warm_engine(linear_model):
    """Runs the engine once so that torch's lazily started pools exist before
    any thread count is taken."""
    benchmark(linear_model, threads=2, requests=20, warmup=0.0, duration=None, calibrate=False)


def still_works(linear_model) -> None:
    """The process survived: the engine still measures."""
    assert benchmark(linear_model, requests=5, warmup=0.0, duration=None, calibrate=False).requests == 5


def cli(capsys, *args) -> tuple[int, str]:
    """`infermeter ARGS` as the shell runs it: exit code and stderr."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def bench(bench_binary, *args, timeout=60) -> subprocess.CompletedProcess:
    """`infermeter-bench ARGS`; timing out (a hung engine) fails the test."""
    return subprocess.run([str(bench_binary), *map(str, args), "--no-calibrate", "--warmup", "0.1"],
                          capture_output=True, text=True, timeout=timeout)


def user_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith("infermeter-bench: ") and "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr


def sweep_config(tmp_path: Path, models: list[Path], batch_sizes=(1, 2), **doc) -> Path:
    return write_config(tmp_path / "sweep.yaml", models=[{"name": str(m)} for m in models],
                        batch_sizes=list(batch_sizes), **(SWEEP | doc))


def statuses(out: Path) -> dict[tuple[str, int], dict]:
    return {(Path(r["point"]["model"]).stem, r["point"]["batch_size"]): r for r in ResultsFile(out).records()}


def each_point_once(config_path: Path, out: Path) -> list[dict]:
    records = ResultsFile(out).records()
    assert [r["key"] for r in records] == [p.key for p in expand(load_config(config_path))]
    return records


# A child process that imports infermeter, says so, and runs `infermeter
# ARGS` (as `python -m infermeter` does: sys.exit(main())) once told to go.
# The slow import of torch then overlaps the tests that run before.
CHILD = ("import sys\n"
         "from infermeter.cli import main\n"
         "print('ready', flush=True)\n"
         "sys.stdin.readline()\n"
         "sys.exit(main(sys.argv[1:]))\n")


class Child:
    def __init__(self, args: list, preexec_fn=None):
        env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                     preexec_fn=preexec_fn)

    def go(self) -> subprocess.Popen:
        assert self.proc.stdout.readline() == "ready\n", self.proc.communicate()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self.proc


def limit_file_size():
    """Files of this child may grow to 8000 bytes: about two and a half
    records of the sweep below, so the third one's write is cut short."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (8000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@pytest.fixture(scope="module", autouse=True)
def children(models, tmp_path_factory):
    """The sweeps that a signal or a full disk interrupts, each in its own
    folder: (config, results folder, child)."""
    started = {}
    for name, preexec_fn in (("ctrl_c", None), ("sigterm", None), ("sigkill", None), ("disk_full", limit_file_size)):
        tmp = tmp_path_factory.mktemp(name)
        # Points of half a second: a signal lands while a later point measures.
        config_path = sweep_config(tmp, [models["linear"]], batch_sizes=(1, 2, 3, 4), duration=0.5)
        started[name] = (config_path, tmp / "out",
                         Child(["sweep", config_path, "-o", tmp / "out", "--quiet"], preexec_fn))
    yield started
    for *_, child in started.values():
        if child.proc.poll() is None:
            child.proc.kill()
        child.proc.communicate()


@pytest.fixture(scope="module", autouse=True)
def no_tqdm_monitor():
    """A progress bar made with disable=True still starts tqdm's monitor
    thread, which then never ends (test_sweep_leaves_no_thread_behind); the
    sweep rows check the engine's threads without it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tqdm, "monitor_interval", 0)
        yield


def wait_for_records(proc: subprocess.Popen, out: Path, count: int) -> None:
    results, deadline = out / "results.jsonl", time.monotonic() + 120
    while not (results.exists() and results.read_bytes().count(b"\n") >= count):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep wrote no record in 120 s"
        time.sleep(0.02)


# ------------------------------------------------------------ missing model

@row("missing model", "Python API", "EngineError naming the file: no such file", "message, threads, engine still works")
def test_missing_model_api(linear_model, tmp_path):
    with threads_joined(), pytest.raises(EngineError, match=r"model file not found: .*nothing.pt' \(no such file\)"):
        benchmark(tmp_path / "nothing.pt", **QUICK)
    still_works(linear_model)


@row("missing model", "CLI run, infermeter-bench", "exit 1, message naming the file: no such file",
     "message, exit code, no traceback, binary exits")
def test_missing_model_cli(bench_binary, capsys, tmp_path):
    code, err = cli(capsys, "run", tmp_path / "nothing.pt", "--no-calibrate")
    assert code == 1 and "model file not found" in err and "nothing.pt" in err and "no such file" in err
    user_error(bench(bench_binary, tmp_path / "nothing.pt"), 1, "model file not found", "nothing.pt", "no such file")


@row("missing model", "sweep config", "ConfigError naming config and file before any point; CLI exit 2",
     "message, exit code, no results written")
def test_missing_model_sweep(capsys, tmp_path):
    config_path = sweep_config(tmp_path, ["gone.pt"])
    with pytest.raises(ConfigError, match=r"sweep.yaml: models: TorchScript file not found: .*gone.pt"):
        load_config(config_path)
    code, err = cli(capsys, "sweep", config_path, "-o", tmp_path / "out", "--quiet")
    assert code == 2 and "gone.pt" in err
    assert not (tmp_path / "out").exists()


@row("a directory given as the model", "Python API (torchscript and aoti runners), CLI run, infermeter-bench, "
     "sweep config", "EngineError / exit 1: is a directory, not a model file; sweep: ConfigError before any point",
     "message, exit code, no traceback, binary exits, nothing written")
def test_directory_as_model(bench_binary, capsys, tmp_path):
    folder = tmp_path / "model.pt"  # named like a model file: a sweep config takes it for one by its suffix
    folder.mkdir()
    words = f"'{folder}' is a directory, not a model file"
    for runner in ("torchscript", "aoti"):
        with threads_joined(), pytest.raises(EngineError, match=re.escape(words)):
            benchmark(folder, runner=runner, **QUICK)
    code, err = cli(capsys, "run", folder, "--no-calibrate")
    assert code == 1 and err == f"infermeter: model {words}\n"
    user_error(bench(bench_binary, folder), 1, words)
    config_path = sweep_config(tmp_path, [folder])
    code, err = cli(capsys, "sweep", config_path, "-o", tmp_path / "out", "--quiet")
    assert code == 2 and f"{folder} is a directory, not a model file" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------ corrupt model

@row("corrupt model (random bytes in a .pt)", "Python API", "EngineError: cannot load as TorchScript",
     "message, threads, engine still works")
def test_corrupt_model_api(models):
    with threads_joined(), pytest.raises(EngineError, match="cannot load .*corrupt.pt.* as a TorchScript model"):
        benchmark(models["corrupt"], **QUICK)
    still_works(models["linear"])


@row("corrupt model (random bytes in a .pt)", "CLI run, infermeter-bench", "exit 1, cannot load as TorchScript",
     "message, exit code, no traceback, binary exits")
def test_corrupt_model_cli(bench_binary, capsys, models):
    code, err = cli(capsys, "run", models["corrupt"], "--no-calibrate")
    assert code == 1 and "cannot load" in err and "corrupt.pt" in err and "TorchScript" in err
    user_error(bench(bench_binary, models["corrupt"]), 1, "cannot load", "corrupt.pt")


@row("corrupt model (random bytes in a .pt)", "sweep", "its points recorded `failed`, the other model measured",
     "recorded message, every point recorded, threads")
def test_corrupt_model_sweep(models, tmp_path):
    failing_model_in_a_sweep(models, tmp_path, "corrupt", "cannot load")


def failing_model_in_a_sweep(models, tmp_path, name: str, message: str) -> None:
    """A sweep over a failing model and a good one: the failing model's points are recorded `failed` with
    `message`, the good one's measured, every point once, no thread left behind."""
    config_path = sweep_config(tmp_path, [models[name], models["linear"]])
    with threads_joined():
        outcome = run_sweep(load_config(config_path), tmp_path / "out", progress=False)
    assert outcome.statuses == {"failed": 2, "ok": 2}
    done = statuses(tmp_path / "out")
    assert all(message in done[(name, b)]["error"] for b in (1, 2))
    assert all(done[("linear", b)]["result"]["measurement"]["requests"] > 0 for b in (1, 2))
    each_point_once(config_path, tmp_path / "out")


# -------------------------------------------------------- wrong input shape

@row("wrong input shape", "Python API", "EngineError with the inputs' shape and torch's message",
     "message, threads, engine still works")
def test_wrong_shape_api(models):
    with threads_joined(), pytest.raises(EngineError, match=r"failed on its inputs .*\[2,5\].*shapes cannot be"):
        benchmark(models["linear"], inputs=torch.randn(2, 5), threads=2, **QUICK)
    still_works(models["linear"])


@row("wrong input shape", "CLI run, infermeter-bench", "exit 1, the stored spec's shape and torch's message",
     "message, exit code, no traceback, binary exits")
def test_wrong_shape_cli(bench_binary, capsys, models):
    code, err = cli(capsys, "run", models["shape"], "--no-calibrate", "--duration", "0.2", "--warmup", "0.1")
    assert code == 1 and "failed on its inputs" in err and "[1,5]" in err
    user_error(bench(bench_binary, models["shape"], "--threads", "2"), 1, "failed on its inputs", "shapes cannot be")


@row("wrong input shape", "sweep", "points recorded `failed` with torch's message",
     "recorded message, every point recorded")
def test_wrong_shape_sweep(models, tmp_path):
    config_path = sweep_config(tmp_path, [models["shape"]])
    outcome = run_sweep(load_config(config_path), tmp_path / "out", progress=False)
    assert outcome.statuses == {"failed": 2}
    assert all("shapes cannot be multiplied" in r["error"] for r in each_point_once(config_path, tmp_path / "out"))


# -------------------------------------------------------- wrong input dtype

@row("wrong input dtype", "Python API", "EngineError naming the dtype", "message, threads, engine still works")
def test_wrong_dtype_api(models):
    with threads_joined(), pytest.raises(EngineError, match="failed on its inputs.*Long"):
        benchmark(models["linear"], inputs=torch.ones(2, 16, dtype=torch.int64), threads=2, **QUICK)
    still_works(models["linear"])


@row("wrong input dtype", "CLI run, infermeter-bench", "exit 1 naming the dtype",
     "message, exit code, no traceback, binary exits")
def test_wrong_dtype_cli(bench_binary, capsys, models):
    code, err = cli(capsys, "run", models["dtype"], "--no-calibrate", "--duration", "0.2", "--warmup", "0.1")
    assert code == 1 and "failed on its inputs" in err and "Long" in err
    user_error(bench(bench_binary, models["dtype"]), 1, "failed on its inputs", "same dtype")


# ----------------------------------------------------------- unknown device

DEVICES = [("tpu:0", "device must be cpu or cuda:N, got 'tpu:0'"), ("cuda:7", "'cuda:7' is not available")]
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")


@no_gpu
@row("unknown device (tpu:0, cuda:7 without a GPU)", "Python API", "ValueError naming the device",
     "message, threads")
@pytest.mark.parametrize("device, message", DEVICES)
def test_unknown_device_api(models, device, message):
    with threads_joined(), pytest.raises(ValueError, match=message):
        benchmark(models["linear"], device=device, **QUICK)


@no_gpu
@row("unknown device (tpu:0, cuda:7 without a GPU)", "CLI run, infermeter-bench", "exit 2 naming the device",
     "message, exit code, no traceback, binary exits")
@pytest.mark.parametrize("device, message", DEVICES)
def test_unknown_device_cli(bench_binary, capsys, models, device, message):
    code, err = cli(capsys, "run", models["linear"], "--device", device, "--no-calibrate")
    assert code == 2 and message in err
    user_error(bench(bench_binary, models["linear"], "--device", device), 2, message)


@no_gpu
@row("unknown device (tpu:0, cuda:7 without a GPU)", "sweep",
     "tpu:0: ConfigError on `device`, exit 2; cuda:7: every point recorded `failed` naming the device",
     "message, exit code, recorded message, every point recorded")
def test_unknown_device_sweep(models, capsys, tmp_path):
    tpu = sweep_config(tmp_path, [models["linear"]], device="tpu:0")
    code, err = cli(capsys, "sweep", tpu, "-o", tmp_path / "tpu", "--quiet")
    assert code == 2 and "invalid sweep config" in err and "device" in err
    assert not (tmp_path / "tpu").exists()
    absent = sweep_config(tmp_path, [models["linear"]], device="cuda:7")
    outcome = run_sweep(load_config(absent), tmp_path / "cuda", progress=False)
    assert outcome.statuses == {"failed": 2}
    assert all("'cuda:7' is not available" in r["error"] for r in each_point_once(absent, tmp_path / "cuda"))


# ------------------------------------------------------------ bad config key

@row("bad config key (YAML sweep)", "Python API, CLI sweep", "ConfigError naming file and key; exit 2",
     "message, exit code, no traceback, nothing written")
def test_bad_config_key(models, capsys, tmp_path):
    config_path = write_config(tmp_path / "bad.yaml", models=[{"name": str(models["linear"]), "seqlen": 3}],
                               batchsize=[1])
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    for words in ("bad.yaml", "models[0].seqlen: unknown key", "batchsize: unknown key"):
        assert words in str(caught.value)
    code, err = cli(capsys, "sweep", config_path, "-o", tmp_path / "out", "--quiet")
    assert code == 2 and "models[0].seqlen: unknown key" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------- out of memory mid-sweep

@row("out of device memory mid-sweep (batch >= 4)", "sweep",
     "`oom` recorded, larger batches `skipped`, smaller ones and other models measured",
     "statuses, recorded message, every point recorded, threads")
def test_out_of_memory_mid_sweep(models, tmp_path):
    config_path = sweep_config(tmp_path, [models["oom"], models["linear"]], batch_sizes=(1, 2, 4, 8), threads=[2])
    with threads_joined():
        outcome = run_sweep(load_config(config_path), tmp_path / "out", progress=False)
    assert outcome.statuses == {"ok": 6, "oom": 1, "skipped": 1}
    done = statuses(tmp_path / "out")
    assert [done[("oom", b)]["status"] for b in (1, 2, 4, 8)] == ["ok", "ok", "oom", "skipped"]
    assert "out of memory" in done[("oom", 4)]["error"] and "batch 4" in done[("oom", 8)]["error"]
    assert all(done[("linear", b)]["status"] == "ok" for b in (1, 2, 4, 8))
    each_point_once(config_path, tmp_path / "out")


@row("stray thread after a sweep (progress bar off)", "Python API (run_sweep)", "no thread left running after the sweep",
     "Python and native thread counts, tqdm's monitor included")
def test_sweep_leaves_no_thread_behind(models, tmp_path, monkeypatch):
    monkeypatch.setattr(tqdm, "monitor_interval", 10)  # tqdm's default, as users run it
    stop_tqdm_monitor()  # one left by an earlier sweep in this process would hide a new one
    try:
        with threads_joined():
            run_sweep(load_config(sweep_config(tmp_path, [models["linear"]], batch_sizes=(1,))), tmp_path / "out",
                      progress=False)
    finally:
        stop_tqdm_monitor()


def stop_tqdm_monitor() -> None:
    if tqdm.monitor is not None:
        tqdm.monitor.exit()
        tqdm.monitor = None


# ------------------------------------------------ a model failing mid-run

@row("model raises on its Nth request", "Python API", "EngineError: failed while measuring, with the model's message",
     "message, threads (both replica modes), engine still works")
@pytest.mark.parametrize("replicas", ["per-thread", "shared"])
def test_model_fails_on_nth_request_api(models, replicas):
    with threads_joined(), pytest.raises(EngineError, match="nth.pt' failed while measuring: .*broke on purpose"):
        benchmark(models["nth"], threads=2, replicas=replicas, warmup=0.1, duration=30.0, calibrate=False)
    still_works(models["linear"])


@row("model raises on its Nth request", "infermeter-bench", "exit 1 at once (not after --duration), no result file",
     "message, exit code, exits within 20 s of a 30 s run")
def test_model_fails_on_nth_request_binary(bench_binary, models, tmp_path):
    started = time.monotonic()
    proc = bench(bench_binary, models["nth"], "--threads", "2", "--duration", "30", "--json", tmp_path / "r.json")
    assert time.monotonic() - started < 20
    user_error(proc, 1, "failed while measuring", "broke on purpose")
    assert not (tmp_path / "r.json").exists()


@row("model raises on its Nth request", "sweep", "its points recorded `failed`, the sweep goes on",
     "recorded message, every point recorded, threads")
def test_model_fails_on_nth_request_sweep(models, tmp_path):
    failing_model_in_a_sweep(models, tmp_path, "nth", "broke on purpose")


# -------------------------------------------------- interruptions and resume

def resume(capsys, config_path: Path, out: Path, before: bytes, warns: str | None = None) -> list[dict]:
    """`--resume` runs the rest; every point is then recorded exactly once and
    the bytes already written are untouched. `warns`: what one of its
    `infermeter: ...` lines on stderr says."""
    code, err = cli(capsys, "sweep", config_path, "-o", out, "--resume", "--quiet")
    assert code == 0, err
    assert warns is None or any(line.startswith("infermeter: ") and warns in line for line in err.splitlines()), err
    assert (out / "results.jsonl").read_bytes().startswith(before)
    return each_point_once(config_path, out)


def stop_then_resume(children, capsys, name: str, stop: signal.Signals) -> None:
    config_path, out, child = children[name]
    proc = child.go()
    wait_for_records(proc, out, 1)
    proc.send_signal(stop)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in stdout and "Traceback" not in stderr, stderr
    before = (out / "results.jsonl").read_bytes()
    assert 1 <= before.count(b"\n") < 4
    assert all(r["status"] == "ok" for r in resume(capsys, config_path, out, before))


@row("Ctrl-C mid-sweep, then --resume", "CLI sweep", "exit 130 saying --resume; resume runs the rest",
     "exit code, message, every point exactly once, earlier bytes intact")
def test_ctrl_c_then_resume(children, capsys):
    stop_then_resume(children, capsys, "ctrl_c", signal.SIGINT)


@row("SIGTERM mid-sweep (a scheduler's stop), then --resume", "CLI sweep",
     "as Ctrl-C: exit 130 saying --resume; resume runs the rest",
     "exit code, message, every point exactly once, earlier bytes intact")
def test_sigterm_then_resume(children, capsys):
    stop_then_resume(children, capsys, "sigterm", signal.SIGTERM)


@row("SIGKILL mid-sweep (torn last line), then --resume", "CLI sweep",
     "the torn line is reported and cut off; resume runs the rest",
     "warning, every point exactly once, earlier bytes intact")
def test_sigkill_then_resume(children, capsys):
    config_path, out, child = children["sigkill"]
    proc = child.go()
    wait_for_records(proc, out, 1)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = (out / "results.jsonl").read_bytes()
    # A kill cannot be timed to land inside a write, so the half record it
    # would leave is added here.
    with open(out / "results.jsonl", "ab") as f:
        f.write(b'{"schema":"infermeter.sweep-record/1","key":"')
    records = resume(capsys, config_path, out, before, warns="ignoring 45 bytes after the last whole record")
    assert all(r["status"] == "ok" for r in records)


@row("a sweep resumed with its repeats' spacing changed (rounds against back-to-back)", "CLI sweep",
     "exit 2 naming the folder and what it holds; nothing measured or written",
     "exit code, message, no traceback, folder unchanged")
def test_rounds_and_back_to_back_never_mix(tmp_path, capsys):
    rounds = write_config(tmp_path / "rounds.yaml", models=[{"name": "resnet18", "resolution": 32}], repeat=2,
                          **SWEEP)
    back_to_back = write_config(tmp_path / "b2b.yaml", models=[{"name": "resnet18", "resolution": 32}], repeat=2,
                                repeat_spacing="back-to-back", **SWEEP)
    plain, with_rounds = tmp_path / "plain", tmp_path / "with-rounds"
    write_records(plain / "results.jsonl", [synthetic_record("m", 1, 1, None, 10.0, [1.0])])
    write_records(with_rounds / "rounds" / "1" / "results.jsonl", [synthetic_record("m", 1, 1, None, 10.0, [1.0])])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl")}
    code, err = cli(capsys, "sweep", rounds, "-o", plain, "--resume", "--quiet")
    assert code == 2 and f"{plain / 'results.jsonl'} holds a sweep measured without rounds" in err
    code, err = cli(capsys, "sweep", back_to_back, "-o", with_rounds, "--resume", "--quiet")
    assert code == 2 and f"{with_rounds} holds a sweep whose repeat runs as rounds" in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl")} == before
    assert not (with_rounds / "results.jsonl").exists()


# -------------------------------------------------------------- disk full

@row("disk full while writing results", "Python API (ResultsFile)",
     "ResultsWriteError (an OSError) naming the file, the point and ENOSPC / EFBIG; no torn record",
     "message, errno, earlier bytes intact")
def test_disk_full_results_file(tmp_path):
    records = [synthetic_record("m", b, 1, None, 10.0, [1.0]) for b in (1, 2, 3)]
    path = write_records(tmp_path / "r.jsonl", records[:2])
    before = path.read_bytes()
    with file_size_limit(len(before) + 100), pytest.raises(ResultsWriteError) as caught:
        ResultsFile(path).append(records[2])  # 100 bytes of it fit, the rest does not
    assert caught.value.errno == errno.EFBIG
    for words in (str(path), records[2]["key"], "File too large", "--resume"):
        assert words in str(caught.value)
    assert path.read_bytes() == before
    # /dev/full fails every write with ENOSPC, as a full disk does.
    full = tmp_path / "full.jsonl"
    full.symlink_to("/dev/full")
    with pytest.raises(ResultsWriteError, match=r"full.jsonl: No space left on device \(ENOSPC\)"):
        ResultsFile(full).append(records[0])


@row("disk full while merging shards", "Python API (merge)", "ResultsWriteError naming the output; no half-merged file",
     "message, output absent, inputs intact")
def test_disk_full_while_merging(tmp_path):
    shards = [write_records(tmp_path / f"shard{i}.jsonl", [synthetic_record("m", b, 1, None, 10.0, [1.0])
                                                          for b in (2 * i + 1, 2 * i + 2)]) for i in (0, 1)]
    inputs = [s.read_bytes() for s in shards]
    with file_size_limit(len(inputs[0]) + 100), pytest.raises(ResultsWriteError, match="merged.jsonl: File too large"):
        merge(shards, tmp_path / "merged.jsonl")
    assert not (tmp_path / "merged.jsonl").exists()
    assert [s.read_bytes() for s in shards] == inputs
    assert merge(shards, tmp_path / "merged.jsonl").points == 4  # once there is room, the same call succeeds


@pytest.fixture(scope="module")
def disk_full_sweep(children):
    config_path, out, child = children["disk_full"]
    proc = child.go()
    _, stderr = proc.communicate(timeout=120)
    return config_path, out, proc.returncode, stderr


@row("disk full while writing results", "CLI sweep", "the sweep stops with a message naming the file; resume runs the rest",
     "message, non-zero exit, no torn record, every point exactly once after resume")
def test_disk_full_sweep_stops_and_resumes(disk_full_sweep, capsys):
    config_path, out, code, stderr = disk_full_sweep
    assert code != 0
    assert "cannot write the record of point" in stderr and str(out / "results.jsonl") in stderr
    assert "File too large" in stderr
    before = (out / "results.jsonl").read_bytes()
    written = [json.loads(line) for line in before.splitlines()]
    assert before.endswith(b"\n") and 1 <= len(written) < 4  # whole records only; the sweep stopped
    resume(capsys, config_path, out, before)


@row("disk full while writing results", "CLI sweep", "exit 1 with `infermeter: ...`, no traceback",
     "exit code, no traceback")
def test_disk_full_sweep_is_a_message_not_a_traceback(disk_full_sweep):
    config_path, out, code, stderr = disk_full_sweep
    assert "Traceback" not in stderr and stderr.rstrip().splitlines()[-1].startswith("infermeter: cannot write")
    assert code == 1


# ------------------------------------------------------------ atomic writes
#
# Every file infermeter produces is written whole or not at all: a scratch
# file (or folder) beside the destination, renamed over it. A full disk or any
# other I/O error is a one-line OSError naming the file (what `infermeter`'s
# CLI prints as `infermeter: ...`, exit 1), the scratch is removed, and a file
# or report already at the destination is untouched.

def leftovers(folder):
    """Scratch files or folders a write left beside its destination."""
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def one_line_naming(error: BaseException, path) -> None:
    assert isinstance(error, OSError)  # cli.main prints OSError as one line, exit 1
    assert str(path) in str(error) and "\n" not in str(error)


def disk_fills_during_save(monkeypatch):
    """torch.jit.save replaced by one that writes part of the archive to what
    it is given and then fails as a full disk does. This stands in for the
    disk, not for infermeter's code: everything around the save (scratch
    file, rename, cleanup, message) is the real export. Saves into memory
    (the export's freeze round trip) touch no disk and still work."""
    real_save = torch.jit.save

    def full_disk(m, f, _extra_files=None):
        if isinstance(f, io.BytesIO):
            return real_save(m, f, _extra_files=_extra_files)
        partial = b"PK\x03\x04 half an archive"
        if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
            with open(f, "wb") as out:
                out.write(partial)
        else:
            f.write(partial)
            f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch.jit, "save", full_disk)


def good_export(path, seed=0):
    torch.manual_seed(seed)
    return export(torch.nn.Linear(4, 4), path, inputs=torch.rand(1, 4))


@row("disk full while exporting over an earlier export", "Python API (export)",
     "WriteError (an OSError) naming the file and ENOSPC, saying the file there before is untouched",
     "one-line message, errno, earlier file byte for byte, no scratch file left")
def test_export_on_a_full_disk_leaves_the_earlier_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    good_export(path)
    before = path.read_bytes()
    disk_fills_during_save(monkeypatch)
    with pytest.raises(WriteError) as caught:
        good_export(path, seed=1)
    one_line_naming(caught.value, path)
    assert caught.value.errno == errno.ENOSPC
    assert "No space left on device (ENOSPC)" in str(caught.value) and "untouched" in str(caught.value)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


@row("disk full while exporting to a new path", "Python API (export)", "WriteError saying nothing was written",
     "message, the folder left empty")
def test_export_on_a_full_disk_writes_nothing_where_there_was_nothing(tmp_path, monkeypatch):
    disk_fills_during_save(monkeypatch)
    with pytest.raises(WriteError, match="nothing was written"):
        good_export(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []


@row("none: an export over an earlier export (the control for the rows above)", "Python API (export)",
     "the new model replaces the file whole", "new bytes, the file loads and computes as the new model, "
     "no scratch file left")
def test_a_successful_export_replaces_the_file(tmp_path):
    path = tmp_path / "model.pt"
    good_export(path, seed=0)
    before = path.read_bytes()
    report = good_export(path, seed=1)
    assert report.path == path and path.read_bytes() != before
    assert leftovers(tmp_path) == []
    torch.manual_seed(1)
    second = torch.nn.Linear(4, 4)
    x = torch.rand(3, 4)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(path))(x), second(x))


@row("disk full while saving a TorchScript file over an earlier one", "Python API (save_torchscript)",
     "WriteError naming the file; the file there before untouched",
     "one-line message, earlier file byte for byte, no scratch file left")
def test_save_torchscript_on_a_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    save_torchscript(torch.nn.Linear(4, 4), torch.rand(1, 4), path)
    before = path.read_bytes()
    disk_fills_during_save(monkeypatch)
    with pytest.raises(WriteError) as caught:
        save_torchscript(torch.nn.Linear(4, 4), torch.rand(1, 4), path)
    one_line_naming(caught.value, path)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


@row("export onto a path that is a folder", "Python API (export)", "WriteError: one line naming the path",
     "one-line message, no scratch file left")
def test_export_onto_a_folder_is_one_line(tmp_path):
    (tmp_path / "model.pt").mkdir()
    with pytest.raises(WriteError) as caught:
        good_export(tmp_path / "model.pt")
    one_line_naming(caught.value, tmp_path / "model.pt")
    assert leftovers(tmp_path) == []


@row("the kernel refusing to grow an export's file (EFBIG past RLIMIT_FSIZE, as ENOSPC on a full disk)",
     "Python API (export), in a child process", "WriteError: cannot write FILE: File too large (EFBIG); no SIGABRT "
     "(torch's own zip writer, given a path, aborts the process)",
     "message, child exits 0, earlier file byte for byte, no scratch file left")
def test_export_when_the_kernel_refuses_to_grow_the_file(tmp_path):
    """The kernel's own failure (EFBIG past RLIMIT_FSIZE, as ENOSPC on a full
    disk), in a child process: torch's zip writer, given a path, aborts the
    process (SIGABRT) on such a failure; the export must not give it one."""
    script = textwrap.dedent(f"""
        import resource, signal, torch
        import infermeter
        from pathlib import Path
        path = Path({str(tmp_path / "model.pt")!r})
        torch.manual_seed(0)
        infermeter.export(torch.nn.Linear(64, 64), path, inputs=torch.rand(1, 64))
        before = path.read_bytes()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, resource.RLIM_INFINITY))
        torch.manual_seed(1)
        try:
            infermeter.export(torch.nn.Linear(64, 64), path, inputs=torch.rand(1, 64))
        except OSError as e:
            print("ERROR", e)
        print("SAME", path.read_bytes() == before)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert f"ERROR cannot write {tmp_path / 'model.pt'}: File too large (EFBIG)" in child.stdout
    assert "SAME True" in child.stdout
    assert leftovers(tmp_path) == []


def report_frame(tmp_path, name="r.jsonl", rate=10.0):
    from infermeter.frame import load_results

    records = [synthetic_record("m", b, 1, None, rate * b, [1.0 + b, 2.0 + b]) for b in (1, 2, 4)]
    return load_results(write_records(tmp_path / name, records))


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@row("a report written over an earlier one that has a figure the new one lacks", "Python API (write_report_folder)",
     "the folder replaced whole: no stale file", "folder contents, no scratch folder left")
def test_report_folder_swap_replaces_the_whole_folder(tmp_path):
    folder = tmp_path / "report"
    write_report_folder(folder, {"report.html": "<p>old</p>", "summary.md": "old", "stale.png": b"\x89PNGold"})
    write_report_folder(folder, {"report.html": "<p>new</p>", "summary.md": "new"})
    assert folder_bytes(folder) == {"report.html": b"<p>new</p>", "summary.md": b"new"}  # no stale figure
    assert leftovers(tmp_path) == []


@row("disk full while writing a report folder (EFBIG on a figure)", "Python API (write_report_folder)",
     "WriteError naming the file and EFBIG, saying the report there before is untouched",
     "one-line message, errno, earlier report byte for byte, no scratch folder left")
def test_report_folder_on_a_full_disk_keeps_the_earlier_report(tmp_path):
    folder = tmp_path / "report"
    write_report_folder(folder, {"report.html": "old page", "summary.csv": "a\n1\n", "fig.png": b"\x89PNG" * 10})
    before = folder_bytes(folder)
    big = b"\x89PNG" + bytes(100_000)
    with file_size_limit(50_000), pytest.raises(WriteError) as caught:
        write_report_folder(folder, {"report.html": "new page", "summary.csv": "a\n2\n", "fig.png": big})
    one_line_naming(caught.value, folder / "fig.png")
    assert caught.value.errno == errno.EFBIG and "untouched" in str(caught.value)
    assert folder_bytes(folder) == before
    assert leftovers(tmp_path) == []


@row("a file system that cannot exchange two names, then the second of the two renames failing (EIO)",
     "Python API (write_report_folder)", "two renames swap the folders; when the second fails, WriteError and the "
     "earlier report put back", "folder contents, message, no scratch or old folder left")
def test_report_folder_swap_without_an_atomic_exchange(tmp_path, monkeypatch):
    """Where the file system cannot exchange two names, two renames swap the
    folders; a failure of the second puts the earlier report back."""
    from infermeter.report import formats

    monkeypatch.setattr(formats, "_exchange", lambda a, b: False)
    folder = tmp_path / "report"
    write_report_folder(folder, {"summary.md": "old", "old.png": b"o"})
    write_report_folder(folder, {"summary.md": "new"})
    assert folder_bytes(folder) == {"summary.md": b"new"} and leftovers(tmp_path) == []
    real_rename = formats.os.rename

    def second_rename_fails(src, dst):
        if ".partial-" in str(src):
            raise OSError(errno.EIO, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(formats.os, "rename", second_rename_fails)
    with pytest.raises(WriteError, match="report: Input/output error"):
        write_report_folder(folder, {"summary.md": "newer"})
    assert folder_bytes(folder) == {"summary.md": b"new"} and leftovers(tmp_path) == []


@row("Ctrl-C while a report is written (at its second file)", "Python API (write_report_folder)",
     "KeyboardInterrupt; the earlier report untouched, never a mix of old and new files",
     "folder contents, no scratch folder left")
def test_interrupted_report_leaves_no_mix(tmp_path, monkeypatch):
    folder = tmp_path / "report"
    write_report_folder(folder, {"summary.md": "old", "a.png": b"old"})
    calls = []

    def interrupt_on_second(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("infermeter.report.formats.os.fsync", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        write_report_folder(folder, {"summary.md": "new", "a.png": b"new"})
    assert folder_bytes(folder) == {"summary.md": b"old", "a.png": b"old"} and leftovers(tmp_path) == []


@row("a report's folder holding files a report does not write (results)", "Python API (write_report_folder)",
     "ValueError naming the file: refused, not replaced", "message, the other file intact")
def test_report_folder_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "results.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="results.jsonl"):
        write_report_folder(tmp_path, {"report.html": "page"})
    assert (tmp_path / "results.jsonl").read_text() == "{}\n"


@row("a report into a folder whose parent does not exist", "Python API (write_report_folder)",
     "the parents made and the report written", "folder contents, no scratch folder left")
def test_report_folder_into_a_new_nested_folder(tmp_path):
    write_report_folder(tmp_path / "a" / "b", {"summary.md": "x"})
    assert folder_bytes(tmp_path / "a" / "b") == {"summary.md": b"x"}
    assert leftovers(tmp_path / "a") == []


@row("disk full while writing a report (its figures do not fit)", "Python API (write_report)",
     "WriteError naming the report folder; the earlier report untouched; the same call succeeds once there is room",
     "one-line message, earlier report byte for byte, no scratch folder left, retry")
def test_write_report_on_a_full_disk_keeps_the_earlier_report(tmp_path):
    folder = tmp_path / "report"
    write_report(report_frame(tmp_path), folder)
    before = folder_bytes(folder)
    newer = report_frame(tmp_path, "r2.jsonl", rate=20.0)
    with file_size_limit(3000), pytest.raises(WriteError) as caught:  # the figures do not fit
        write_report(newer, folder)
    one_line_naming(caught.value, folder)
    assert folder_bytes(folder) == before
    assert leftovers(tmp_path) == []
    again = write_report(newer, folder)  # once there is room
    assert folder_bytes(folder) != before and again.html.is_file() and leftovers(tmp_path) == []


# ---------------------------------------------------------------- bad shard

@row("bad shard spec (3/2, x, -1/4, 1/0)", "Python API, CLI sweep", "ValueError saying what is wrong; exit 2",
     "message, exit code, no traceback, nothing written")
@pytest.mark.parametrize("spec, words", [
    ("3/2", "the shard index 3 must be below the shard count 2"),
    ("x", "not two whole numbers I/N"),
    ("-1/4", "the shard index -1 is negative"),
    ("1/0", "the shard count 0 must be at least 1"),
])
def test_bad_shard(models, capsys, tmp_path, spec, words):
    with pytest.raises(ValueError, match="I/N with 0 <= I < N") as caught:
        parse_shard(spec)
    assert words in str(caught.value)
    config_path = sweep_config(tmp_path, [models["linear"]])
    # `--shard=-1/4`: written apart, argparse takes `-1/4` for an option (see the next test).
    code, err = cli(capsys, "sweep", config_path, f"--shard={spec}", "-o", tmp_path / "out", "--quiet")
    assert code == 2 and err.startswith("infermeter: --shard") and words in err
    assert not (tmp_path / "out").exists()


@row("bad shard spec (3/2, x, -1/4, 1/0)", "CLI sweep (`--shard -1/4`)", "argparse: exit 2, --shard expected one argument",
     "message, exit code, no traceback")
def test_shard_that_looks_like_an_option(models, capsys, tmp_path):
    with pytest.raises(SystemExit) as caught:
        main(["sweep", str(sweep_config(tmp_path, [models["linear"]])), "--shard", "-1/4"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "argument --shard: expected one argument" in err and "Traceback" not in err


# ------------------------------------------------------- two sweeps, one folder

@row("a second sweep, or a merge, on a results folder being written, also after its lock file was deleted; "
     "results read from it meanwhile; a link planted as its lock file", "Python API, CLI sweep, merge, report",
     "ValueError naming the holding process; exit 2; readers say the folder is still being written; the folder is "
     "free again once the holder is gone (even killed); a planted link is refused, not written through",
     "message, exit code, nothing written, stale lock taken over, the link's target intact")
def test_two_sweeps_on_one_folder(models, capsys, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from infermeter.sweep.folder_lock import writing\n"
         f"with writing(Path({str(out)!r})):\n    print('holding', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    config_path = sweep_config(tmp_path, [models["linear"]])
    shard = write_records(tmp_path / "shard", [synthetic_record("m", 1, 1, None, 10.0, [1.0])])
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(ValueError, match=rf"being written by another sweep or merge \(process {holder.pid} on "):
            run_sweep(load_config(config_path), out, progress=False)
        code, err = cli(capsys, "sweep", config_path, "-o", out, "--quiet")
        assert code == 2 and f"process {holder.pid}" in err and "Traceback" not in err
        # The lock is the folder's: a lock file deleted meanwhile lets no second writer in.
        (out / ".infermeter.lock").unlink()
        code, err = cli(capsys, "sweep", config_path, "-o", out, "--quiet")
        assert code == 2 and "being written by another sweep or merge" in err
        code, err = cli(capsys, "merge", shard, "-o", out)
        assert code == 2 and "being written by another sweep or merge" in err
        assert not (out / "results.jsonl").exists()
        write_records(out, [synthetic_record("m", 2, 1, None, 10.0, [1.0])])  # what the holder wrote so far
        code, err = cli(capsys, "report", out, "-o", tmp_path / "report")
        assert code == 0 and f"{out} is still being written" in err
    finally:
        holder.kill()  # never releases anything itself: the kernel drops its lock
        holder.wait()
    (out / "results.jsonl").unlink()
    victim = tmp_path / "victim.txt"
    victim.write_text("kept")
    (out / ".infermeter.lock").unlink(missing_ok=True)
    (out / ".infermeter.lock").symlink_to(victim)
    code, err = cli(capsys, "sweep", config_path, "-o", out, "--quiet")
    assert code == 2 and ".infermeter.lock cannot be written" in err and victim.read_text() == "kept"
    (out / ".infermeter.lock").unlink()
    outcome = run_sweep(load_config(config_path), out, progress=False)
    assert outcome.statuses["ok"] == outcome.total > 0


# ------------------------------------------------------- malformed results

def malformed_results(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """One of each malformed input, with the words its error starts with:
    each beside a good sweep folder, so that the good records are read first."""
    good = synthetic_record("m", 1, 1, None, 10.0, [1.0])
    bad_lines = {"missing-key": {k: v for k, v in good.items() if k != "point"},
                 "wrong-type": good | {"point": good["point"] | {"threads": "one"}},
                 "other-schema": good | {"result": good["result"] | {"schema": "elsewhere/1"}}}
    made = {}
    for name, record in bad_lines.items():
        path = write_records(tmp_path / name, [synthetic_record("m", 2, 1, None, 10.0, [1.0]), record])
        made[name] = (path, f"{path}, line 2: not a valid sweep record")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.jsonl").write_bytes(b"")
    made["empty"] = (tmp_path / "empty", f"{tmp_path / 'empty' / 'results.jsonl'}: empty results file")
    (tmp_path / "bare").mkdir()
    made["bare"] = (tmp_path / "bare", f"no sweep results at {tmp_path / 'bare'}: a folder without a results file")
    (tmp_path / "run.json").write_text(json.dumps(good["result"], indent=2))
    made["run"] = (tmp_path / "run.json", f"{tmp_path / 'run.json'}: one run's result")
    return made


@row("malformed results (empty file, folder without one, record of another schema, key missing, wrong type, "
     "a run's .json)", "Python API (load_results, merge), CLI report, compare, recommend, merge",
     "ValueError naming the file and line; exit 2; with skip_bad / --skip-bad left out, and how many and where said",
     "message, exit code, no traceback, nothing written, skip note")
def test_malformed_results(capsys, tmp_path):
    from infermeter import load_results
    from infermeter.sweep.store import SkippedRecords

    good = write_records(tmp_path / "good", [synthetic_record("g", b, 1, None, 10.0 * b, [1.0]) for b in (1, 2, 4)]).parent
    cases = malformed_results(tmp_path / "bad")
    for bad, words in cases.values():
        with pytest.raises(ValueError) as caught:
            load_results(good, bad)
        assert str(caught.value).startswith(words)
        with pytest.raises(ValueError, match="^" + re.escape(words)):
            merge([good, bad], tmp_path / "merged")
        for args in (["report", good, bad, "-o", tmp_path / "report"], ["compare", good, bad],
                     ["recommend", good, bad, "--sla", "p99<1s"], ["merge", good, bad, "-o", tmp_path / "merged"]):
            code, err = cli(capsys, *args)
            assert code == 2 and err == f"infermeter: {words}" + err.split(words, 1)[1] and err.count("\n") == 1, err
    assert not (tmp_path / "report").exists() and not (tmp_path / "merged").exists()
    bad = [path for path, _ in cases.values()]
    with pytest.warns(SkippedRecords, match=f"skipped {len(bad)} bad records"):
        assert len(load_results(good, *bad, skip_bad=True)) == 3 + 3  # each damaged file's good line too
    code, err = cli(capsys, "report", good, *bad, "-o", tmp_path / "report", "--skip-bad")
    assert code == 0 and err.startswith(f"infermeter: skipped {len(bad)} bad records")


@row("a last record missing only its final newline", "Python API (ResultsFile), CLI sweep --resume",
     "kept as a whole record (not reported as torn); resume ends it with a newline and runs the rest",
     "records read, every point exactly once, earlier bytes intact")
def test_record_missing_its_newline(models, capsys, tmp_path):
    config_path = sweep_config(tmp_path, [models["linear"]])
    out = tmp_path / "out"
    run_sweep(load_config(config_path), out, progress=False)
    results = out / "results.jsonl"
    whole = results.read_bytes()
    first = whole.splitlines(keepends=True)[0]
    results.write_bytes(first.rstrip(b"\n"))  # the second point's record lost, the first's newline too
    assert [r["key"] for r in ResultsFile(out).records()] == [json.loads(first)["key"]]
    code, err = cli(capsys, "sweep", config_path, "-o", out, "--resume", "--quiet")
    assert code == 0 and "ignoring" not in err, err
    assert results.read_bytes().startswith(first)
    each_point_once(config_path, out)


@row("--resume after the config changed what a point measures", "Python API, CLI sweep",
     "ValueError naming the changed keys; exit 2; --accept-changed-config goes on; an axis given more values is "
     "no change; sweep.json keeps the configs it replaced", "message, exit code, nothing written, history")
def test_resume_after_the_config_changed(models, capsys, tmp_path):
    config_path = sweep_config(tmp_path, [models["linear"]], batch_sizes=(1,))
    out = tmp_path / "out"
    run_sweep(load_config(config_path), out, progress=False)
    before = {f: (out / f).read_bytes() for f in ("results.jsonl", "sweep.json")}
    # sweep_config writes tmp_path/sweep.yaml: each config below is a file of its own.
    changed = write_config(tmp_path / "changed.yaml", models=[{"name": str(models["linear"])}], batch_sizes=[1],
                           **(SWEEP | {"warmup": 0.05, "threads": [2]}))
    with pytest.raises(ValueError, match=r"threads \(without 1\), warmup changed"):
        run_sweep(load_config(changed), out, progress=False, resume=True)
    code, err = cli(capsys, "sweep", changed, "-o", out, "--resume", "--quiet")
    assert code == 2 and "threads (without 1), warmup changed" in err and "--accept-changed-config" in err
    assert {f: (out / f).read_bytes() for f in before} == before
    # An instance given on the command line prices the points as one in the config would.
    code, err = cli(capsys, "sweep", config_path, "-o", out, "--resume", "--quiet", "--instance", "g5.xlarge")
    assert code == 2 and "instance changed" in err
    assert {f: (out / f).read_bytes() for f in before} == before
    wider = write_config(tmp_path / "wider.yaml", models=[{"name": str(models["linear"])}], batch_sizes=[1, 2],
                         **SWEEP)
    code, err = cli(capsys, "sweep", wider, "-o", out, "--resume", "--quiet")
    assert code == 0, err
    code, err = cli(capsys, "sweep", changed, "-o", out, "--resume", "--quiet", "--accept-changed-config")
    assert code == 0, err
    history = json.loads((out / "sweep.json").read_text())["history"]
    assert [h["changed"] for h in history] == [[], ["batch_sizes (without 2)", "threads (without 1)", "warmup"]]
    assert history[0]["config"]["batch_sizes"] == [1] and history[1]["config"]["batch_sizes"] == [1, 2]


# ---------------------------------------------------------- vendor SDK absent

@pytest.mark.skipif(importlib.util.find_spec("torch_neuron") is not None, reason="torch-neuron is installed")
@row("vendor SDK absent (--backend neuron without torch_neuron)", "Python API, CLI run, sweep config",
     "BackendUnavailable naming the package and how to install it; exit 2; sweep stops before any point",
     "message, exit code, no traceback, nothing written")
def test_vendor_sdk_absent(models, capsys, tmp_path):
    with pytest.raises(BackendUnavailable, match="needs torch-neuron .*not installed.*pip install torch-neuron"):
        benchmark(models["linear"], backend="neuron", **QUICK)
    code, err = cli(capsys, "run", models["linear"], "--backend", "neuron", "--no-calibrate")
    assert code == 2 and "torch-neuron" in err and "inf1" in err
    config_path = sweep_config(tmp_path, [models["linear"]], backend="neuron")
    code, err = cli(capsys, "sweep", config_path, "-o", tmp_path / "out", "--quiet")
    assert code == 2 and "torch-neuron" in err
    assert not (tmp_path / "out" / "results.jsonl").exists()


# ------------------------------------------------------------ hostile inputs

@row("SLA limit of 0 (p99<0ms, p99<=0us), or too large to be a number (400 digits: infinite)",
     "Python API (parse_sla), CLI run --find-rate, sweep config",
     "ValueError: the latency limit must be positive, or finite; exit 2 before measuring; ConfigError on `sla`",
     "message, exit code, no traceback, nothing measured or written")
@pytest.mark.parametrize("sla", ["p99<0ms", "p99<=0us", "p50<0.0s", f"p99<1{'0' * 400}ms"])
def test_sla_of_zero(models, capsys, tmp_path, sla):
    words = f"SLA '{sla}': the latency limit must be " + ("positive" if "0" * 400 not in sla else "a finite number")
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_sla(sla)
    code, err = cli(capsys, "run", models["linear"], "--find-rate", "--sla", sla, "--no-calibrate")
    assert code == 2 and err == f"infermeter: {words}, e.g. p90<15ms\n"
    assert "searching" not in capsys.readouterr().out
    config_path = sweep_config(tmp_path, [models["linear"]], sla=sla)
    with pytest.raises(ConfigError, match=r"sweep.yaml: invalid sweep config\n  sla: " + re.escape(words)):
        load_config(config_path)


@row("a key given twice in a YAML file (the last would win), `<<` merge keys included",
     "Python API (load_config, load_catalog), CLI sweep",
     "ConfigError / ValueError naming the file, the key and both lines; exit 2; YAML tags still refused",
     "message, exit code, no traceback, nothing written")
def test_duplicate_yaml_key(models, capsys, tmp_path):
    config_path = tmp_path / "twice.yaml"
    config_path.write_text(f"name: t\nbatch_sizes: [1, 2]\nmodels:\n  - name: {models['linear']}\n"
                           "    batch_sizes: [4]\nduration: 0.2\nbatch_sizes: [8]\n")
    words = f"{config_path}, line 7: key 'batch_sizes' is given twice (first on line 2)"
    with pytest.raises(ConfigError, match="^" + re.escape(words) + "$"):
        load_config(config_path)
    code, err = cli(capsys, "sweep", config_path, "-o", tmp_path / "out", "--quiet")
    assert code == 2 and err == f"infermeter: {words}\n"
    assert not (tmp_path / "out").exists()
    prices = tmp_path / "prices.yaml"
    prices.write_text("instances:\n  box: {accelerator: none, count: 0, price_per_hour: 1.0, region: r,\n"
                      "        date: 2026-01-01, source: s, price_per_hour: 0.5}\n")
    with pytest.raises(ValueError, match=re.escape(f"{prices}, line 3: key 'price_per_hour' is given twice "
                                                   "(first on line 2)")):
        load_catalog(prices)
    config_path.write_text("base: &base {duration: 0.2}\nfast: &fast {duration: 0.1}\nname: t\nmodels:\n"
                           f"  - name: {models['linear']}\n    <<: *base\n    <<: *fast\n")
    with pytest.raises(ConfigError, match=re.escape("line 7: key '<<' is given twice (first on line 6) (merge "
                                                    "several mappings with one: <<: [*a, *b])")):
        load_config(config_path)
    config_path.write_text("name: !!python/object/apply:os.getpid []\n")
    with pytest.raises(ConfigError, match="not valid YAML: could not determine a constructor for the tag"):
        load_config(config_path)


def grid_config(tmp_path: Path, model: Path, **doc) -> Path:
    """By default a config of 100 batch sizes x 100 client threads x 100 rates: a million points."""
    million = dict(batch_sizes=list(range(1, 101)), threads=list(range(1, 101)),
                   rates=[10.0 * r for r in range(1, 101)])
    return write_config(tmp_path / "grid.yaml", models=[{"name": str(model)}], load="open", warmup=1.0, duration=5.0,
                        **(million | doc))


@row("a grid of a million points", "Python API (load_config, run_sweep), CLI sweep",
     "ConfigError on `max_points` (default 10,000) with the count and a time estimate, before a point is built; "
     "max_points raises the bound; a sweep of an hour or more warns with its estimate "
     "(the CLI: one `infermeter:` line)",
     "message, exit code, no traceback, nothing written, time taken, warning")
def test_a_grid_too_large(models, capsys, tmp_path, monkeypatch):
    from infermeter.sweep import execute

    config_path = grid_config(tmp_path, models["linear"])
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert time.monotonic() - started < 5  # refused from the axes' lengths, not from a million points built
    words = ("max_points: the grid has 1,000,000 points, about 69 days (1 s warm-up + 5 s duration each), more than "
             "max_points (10,000): check the axes for a mistake, or set max_points: 1000000 to run it")
    assert str(caught.value) == f"{config_path}: invalid sweep config\n  {words}"
    code, err = cli(capsys, "sweep", config_path, "-o", tmp_path / "out", "--quiet")
    assert code == 2 and words in err and not (tmp_path / "out").exists()
    bounded = load_config(grid_config(tmp_path, models["linear"], batch_sizes=[1, 2], threads=[1], rates=[5.0],
                                      max_points=2))
    assert point_count(bounded) == len(expand(bounded)) == 2
    # A sweep measuring for longer than the bound (an hour; here lowered) says so before its first point.
    monkeypatch.setattr(execute, "LONG_SWEEP_S", 0.1)
    small = sweep_config(tmp_path, [models["linear"]])
    with pytest.warns(execute.LongSweep, match=r"sweep 't' is about to measure 2 points, about 0.6 s "
                                              r"\(0.1 s warm-up \+ 0.2 s duration each\)"):
        run_sweep(load_config(small), tmp_path / "small", progress=False)
    # The command line says it as it says its errors, before the first point, without Python's source line.
    code, err = cli(capsys, "sweep", small, "-o", tmp_path / "small-cli", "--quiet")
    assert code == 0 and err.startswith("infermeter: sweep 't' is about to measure 2 points") and ".py:" not in err, err


@row("infinite or NaN price in a price file (--prices), or one that is not a number (a string, YAML's true)",
     "Python API (load_catalog), CLI recommend --prices",
     "ValueError naming the file, the instance and the field; exit 2", "message, exit code, no traceback")
@pytest.mark.parametrize("price, should", [(".inf", "a finite number"), (".nan", "a finite number"),
                                           ("'inf'", "a valid number"), ("true", "a valid number")])
def test_price_not_finite(capsys, tmp_path, price, should):
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"instances:\n  g5.xlarge: {{accelerator: NVIDIA A10G, count: 1, price_per_hour: {price},\n"
                      "              region: r, date: 2026-01-01, source: s}\n")
    words = f"{prices}: instances.g5.xlarge: price_per_hour: Input should be {should}"
    with pytest.raises(ValueError, match="^" + re.escape(words) + "$"):
        load_catalog(prices)
    results = write_records(tmp_path / "r", [synthetic_record("m", 1, 1, "g5.xlarge", 100.0, [1.0])])
    code, err = cli(capsys, "recommend", results, "--sla", "p90<15ms", "--prices", prices)
    assert code == 2 and err == f"infermeter: {words}\n"


@row("recommend's --target-load or --min-throughput not a finite positive number (inf, nan, -5, 0)",
     "Python API (recommend), CLI recommend", "ValueError naming the option and what it must be; exit 2",
     "message, exit code, no traceback")
@pytest.mark.parametrize("flag", ["--target-load", "--min-throughput"])
@pytest.mark.parametrize("value", ["inf", "nan", "-5", "0"])
def test_recommend_load_not_a_positive_number(capsys, tmp_path, flag, value):
    results = write_records(tmp_path / "r", [synthetic_record("m", 1, 1, "g5.xlarge", 100.0, [1.0])])
    code, err = cli(capsys, "recommend", results, "--sla", "p90<15ms", f"{flag}={value}")
    name = flag[2:].replace("-", "_")
    assert code == 2 and err.startswith(f"infermeter: {name} ({flag}) is in inferences/s and must be a finite "
                                        f"number above 0, got {float(value)}")


@row("a sweep named like a file (`v1.5`): its default output has a suffix", "CLI sweep",
     "the results folder results/v1.5 holds everything the sweep writes (not a file of that name beside others)",
     "files written, where")
def test_a_sweep_named_with_a_dot(models, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config_path = sweep_config(tmp_path, [models["linear"]], batch_sizes=(1,), name="v1.5")
    code, err = cli(capsys, "sweep", config_path, "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["v1.5"]
    assert {"results.jsonl", "sweep.json"} <= {p.name for p in (tmp_path / "results" / "v1.5").iterdir()}


@row("Ctrl-C during an export, after its file was written whole", "CLI export",
     "exit 0 saying the file is complete; before the file is in place: exit 130, an earlier file untouched",
     "exit code, message, file intact, no traceback")
def test_export_interrupted_after_its_file_is_written(capsys, tmp_path, monkeypatch):
    exporting = importlib.import_module("infermeter.export")  # the module: the package's `export` is its function
    output = tmp_path / "m.pt"

    def interrupted_export(model, path, write: bool, **options):
        if write:  # the export's last step: its file renamed into place
            save_torchscript(torch.nn.Linear(4, 2), torch.rand(1, 4), path)
        raise KeyboardInterrupt  # then Ctrl-C, as while the scratch folder is removed

    for write in (True, False):
        monkeypatch.setattr(exporting, "export", functools.partial(interrupted_export, write=write))
        before = output.read_bytes() if output.exists() else None
        code = main(["export", "resnet18", "-o", str(output)])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if write:
            assert code == 0 and f"interrupted after {output} was written whole: the export is complete" in err
        else:
            assert code == 130 and err.endswith("infermeter: interrupted\n") and output.read_bytes() == before
    assert not written_since(output, file_identity(output)) and written_since(output, None)


def corrupt_package(path: Path) -> Path:
    """A .pt2 whose input spec and metadata read well and whose library is not
    a library: torch's loader unpacks it, then fails to load it."""
    spec = ModelInputs([InputSpec.from_tensor("x", torch.rand(1, 4))]).to_json()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("m/.data/version", "3\n")
        archive.writestr("m/archive_format", "pt2")
        archive.writestr("m/data/aotinductor/model/m.wrapper_metadata.json", json.dumps({"AOTI_DEVICE_KEY": "cpu"}))
        archive.writestr("m/data/aotinductor/model/m.wrapper.so", os.urandom(4096))
        archive.writestr(f"m/extra/{INPUT_SPEC_FILE}", spec)
    return path


@pytest.mark.skipif(not aoti_export.LOADS_UNPACKED_FOLDERS,
                    reason="torch before 2.14 loads the .pt2 alone, and leaves its unpacked copy when loading fails")
@row("corrupt AOTInductor package (.pt2 whose library does not load), --trust",
     "Python API (benchmark, export's load), infermeter-bench", "EngineError / exit 1: cannot load AOTInductor "
     "package; nothing left in the temp directory (torch's loader leaves its unpacked copy when loading fails)",
     "message, exit code, the temp directory (TMPDIR) empty afterwards, engine still works")
def test_corrupt_package_leaves_no_temp_files(bench_binary, models, tmp_path, monkeypatch):
    package = corrupt_package(tmp_path / "corrupt.pt2")
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.run([str(bench_binary), package, "--runner", "aoti", "--trust", "--no-calibrate"],
                          capture_output=True, text=True, timeout=60, env=os.environ | {"TMPDIR": str(temp)})
    user_error(proc, 1, f"cannot load AOTInductor package '{package}'")
    assert list(temp.iterdir()) == []
    monkeypatch.setenv("TMPDIR", str(temp))  # torch's loader and the engine read it on each load
    with pytest.raises(EngineError, match=re.escape(f"cannot load AOTInductor package '{package}'")):
        benchmark(package, runner="aoti", trust=True, **QUICK)
    with pytest.raises(RuntimeError, match="invalid ELF header"):
        aoti_export.load_package(package, torch.device("cpu"), tmp_path / "unpacked")
    assert list(temp.iterdir()) == []
    still_works(models["linear"])


PLANTED_C = """
#include <stdio.h>
#include <stdlib.h>
/* Runs when the library is loaded, before any of its functions is called. */
__attribute__((constructor)) static void planted(void) {
  const char* marker = getenv("INFERMETER_PLANTED_MARKER");
  FILE* f = marker ? fopen(marker, "w") : NULL;
  if (f) fclose(f);
}
"""


@pytest.fixture(scope="module")
def planted_library(tmp_path_factory) -> bytes:
    """A shared library whose ELF constructor writes the file that
    $INFERMETER_PLANTED_MARKER names: what an attacker puts in a package."""
    folder = tmp_path_factory.mktemp("planted")
    (folder / "planted.c").write_text(PLANTED_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", folder / "planted.so", folder / "planted.c"], check=True)
    return (folder / "planted.so").read_bytes()


@pytest.fixture(scope="module")
def cpu_package(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("package") / "mlp.pt2"
    export(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU()).eval(), path, inputs=torch.rand(1, 8),
           format="aoti")
    return path


@row("an AOTInductor package whose library was replaced (planted code in an ELF constructor), one without "
     "infermeter's export facts, one without its library (the loader would run the compiler command it names)",
     "Python API, CLI run, infermeter-bench", "ValueError / exit 2: will not be loaded, saying why and --trust; "
     "refused before anything loads", "message, exit code, the planted code never ran (it does with --trust), "
     "engine still works")
def test_untrusted_packages_run_nothing(bench_binary, models, cpu_package, planted_library, capsys, tmp_path,
                                        monkeypatch):
    marker = tmp_path / "planted-code-ran"
    monkeypatch.setenv("INFERMETER_PLANTED_MARKER", str(marker))
    planted = rewritten(cpu_package, tmp_path / "planted.pt2", change_library=lambda _: planted_library)
    foreign = rewritten(planted, tmp_path / "foreign.pt2", drop_facts=True)
    stripped = rewritten(cpu_package, tmp_path / "stripped.pt2", compile_command=f"touch {marker}; false")
    for package, why in ((planted, "is not the one infermeter's export recorded"),
                         (foreign, "was not exported by infermeter"),
                         (stripped, "which infermeter's export recorded, is missing")):
        user_error(bench(bench_binary, package, "--runner", "aoti", "--duration", "0.2"), 2, "will not be loaded",
                   why, "--trust")
        code, err = cli(capsys, "run", package, "--runner", "aoti", "--duration", "0.2", "--no-calibrate")
        assert code == 2 and "will not be loaded" in err and why in err
        # The planted library links no libstdc++: refused for trust, not sent to the static-runtime check.
        with pytest.raises(ValueError, match=f"will not be loaded: .*{re.escape(why)}"):
            benchmark(package, runner="aoti", **QUICK)
        assert not marker.exists()
    # Trusted, the planted code runs as the package loads (then the loader finds no model in it).
    proc = bench(bench_binary, planted, "--runner", "aoti", "--duration", "0.2", "--trust")
    assert proc.returncode == 1 and marker.exists(), proc.stderr
    still_works(models["linear"])


@row("a compile-cache entry whose library was replaced after it was cached", "Python API (export)",
     "UserWarning naming the cached package; compiled again: the package records the digests of what was compiled",
     "warning, recorded digests, the planted code never ran")
def test_a_tampered_compile_cache_entry_is_compiled_again(cpu_package, planted_library, tmp_path, monkeypatch):
    monkeypatch.setenv("INFERMETER_CACHE", str(tmp_path / "cache"))
    marker = tmp_path / "planted-code-ran"
    monkeypatch.setenv("INFERMETER_PLANTED_MARKER", str(marker))
    model, inputs = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU()).eval(), torch.rand(1, 8)
    first = export(model, tmp_path / "first.pt2", inputs=inputs, format="aoti")
    assert first.info["compile_cache"] == "miss"
    (entry,) = compile_cache.cache_folder().glob("*.pt2")
    rewritten(entry, tmp_path / "poisoned.pt2", change_library=lambda _: planted_library).replace(entry)
    with pytest.warns(UserWarning, match=f"the cached package {re.escape(str(entry))} holds native libraries other"):
        second = export(model, tmp_path / "second.pt2", inputs=inputs, format="aoti")
    assert not marker.exists()
    assert second.info["compile_cache"] == "miss"
    assert second.info["native_libraries"] == first.info["native_libraries"]


@row("a named pipe given as the model", "Python API, CLI run, infermeter-bench",
     "EngineError / exit 1: not a regular file, at once (reading it would block)",
     "message, exit code, no hang (each within its timeout)")
def test_a_pipe_as_the_model(bench_binary, models, capsys, tmp_path):
    pipe = tmp_path / "model.pt2"
    os.mkfifo(pipe)
    user_error(bench(bench_binary, pipe, "--duration", "0.2", timeout=30), 1, "not a regular file")
    for runner in ("torchscript", "aoti"):
        code, err = cli(capsys, "run", pipe, "--runner", runner, "--duration", "0.2", "--no-calibrate")
        assert code == 1 and "not a regular file" in err
        with pytest.raises(EngineError, match="not a regular file"):
            benchmark(pipe, runner=runner, **QUICK)
    still_works(models["linear"])


@row("outputs that would destroy something: two outputs on one path, an output that is an input (a library to "
     "load, a results file read, a weights file), an empty path, an export onto a pipe",
     "infermeter-bench, CLI run, predict, export", "exit 2 naming the option, the path and why (exit 1 for the "
     "pipe: a WriteError); nothing measured or built first",
     "message, exit code, the inputs intact, no file written")
def test_outputs_that_would_destroy_something(bench_binary, models, capsys, tmp_path):
    library = tmp_path / "ops.so"
    library.write_bytes(b"not loaded: the outputs are checked first")
    user_error(bench(bench_binary, models["linear"], "--json", tmp_path / "a.json", "--hlog", tmp_path / "a.json"), 2,
               "hlog", "is also json's file")
    user_error(bench(bench_binary, models["linear"], "--json", library, "--load-library", library), 2,
               "is an input of this run")
    user_error(bench(bench_binary, models["linear"], "--trace", ""), 2, "trace is an empty path")
    code, err = cli(capsys, "run", models["linear"], "--json", tmp_path / "b.json", "--hlog", tmp_path / "b.json")
    assert code == 2 and "is also json's file" in err
    code, err = cli(capsys, "run", models["linear"], "--json", "")
    assert code == 2 and "json is an empty path" in err
    first = write_records(tmp_path / "one", [synthetic_record("m", 1, 1, None, 10.0, [1.0])])
    second = write_records(tmp_path / "two", [synthetic_record("m", 2, 1, None, 10.0, [1.0])])
    before = second.read_bytes()
    code, err = cli(capsys, "predict", first, second, "--rate", "100", "--json", second)
    assert code == 2 and "is an input of this run" in err and second.read_bytes() == before
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"weights")
    code, err = cli(capsys, "export", "resnet18", "--weights", weights, "-o", weights)
    assert code == 2 and "is an input of this export" in err and weights.read_bytes() == b"weights"
    pipe = tmp_path / "pipe.pt"
    os.mkfifo(pipe)
    code, err = cli(capsys, "export", "resnet18", "--resolution", "32", "-o", pipe)
    assert code == 1 and f"cannot write {pipe}: not a regular file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "ops.so", "pipe.pt", "two", "weights.pth"]


@row("a write past the file-size limit (SIGXFSZ would kill the process)", "infermeter-bench",
     "exit 1 with one line naming the file and EFBIG; no scratch file left", "message, exit code, folder contents")
def test_bench_past_the_file_size_limit(bench_binary, models, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([str(bench_binary), models["linear"], "--duration", "0.2", "--no-calibrate", "--json",
                           out / "r.json"], capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024)))
    user_error(proc, 1, f"cannot write '{out / 'r.json'}'", "File too large")
    assert list(out.iterdir()) == []


@row("a number option given NaN or inf on the command line (read as `not given`: --rate nan ran a closed loop); "
     "an int past 64 bits from Python; max_batch past its bound (every size is computed once before measuring)",
     "CLI run, infermeter-bench, Python API", "exit 2 / ValueError naming the option; nothing measured",
     "message, exit code, no traceback")
def test_numbers_that_are_not_values(bench_binary, models, capsys):
    for flag in ("--rate", "--ci", "--warmup"):
        for value in ("nan", "inf"):
            code, err = cli(capsys, "run", models["linear"], flag, value, "--duration", "0.2", "--no-calibrate")
            assert code == 2 and err.startswith(f"infermeter: {flag[2:]} must be "), err
    with pytest.raises(ValueError, match=r"^threads must fit in 64 bits, got 100000000000000000000$"):
        benchmark(models["linear"], threads=10**20, **QUICK)
    with pytest.raises(ValueError, match=r"^threads must fit in 64 bits, got an integer of 1329 bits$"):
        benchmark(models["linear"], threads=10**400, **QUICK)
    with pytest.raises(ValueError, match=r"^seed must fit in 64 bits, got 18446744073709551616$"):
        benchmark(models["linear"], seed=2**64, **QUICK)
    assert check_value("seed", 2**64 - 1) == 2**64 - 1  # the largest seed, a uint64
    with pytest.raises(ValueError, match=r"^batch_size must fit in 64 bits, got -9223372036854775809$"):
        check_value("batch_size", -2**63 - 1)
    user_error(bench(bench_binary, models["linear"], "--load", "dynamic-batching", "--rate", "100", "--max-batch",
                     str(1 << 20)), 2, "max_batch must be >= 1 and at most 16384")


@row("a result saved onto a pipe or a folder (the rename would replace the pipe; as root, a device too)",
     "Python API (Result.save, Result.save_interval_log)", "an OSError naming the file and why; nothing replaced",
     "message, error type, the pipe and the folder as they were")
def test_a_result_is_never_saved_over_a_special_file(linear_model, tmp_path):
    result = benchmark(linear_model, **QUICK)
    pipe, folder = tmp_path / "pipe", tmp_path / "folder"
    os.mkfifo(pipe)
    folder.mkdir()
    for save in (result.save, result.save_interval_log):
        with pytest.raises(OSError, match=f"cannot write '{re.escape(str(pipe))}': it is not a regular file"):
            save(pipe)
        with pytest.raises(OSError, match=f"cannot write '{re.escape(str(folder))}': it is a directory"):
            save(folder)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]


@row("results that are no records: JSON nested 100,000 deep, a last line `null` (with its newline), a run's result "
     "file holding `[]`; a blank last line", "CLI report, dashboard",
     "exit 2 naming the file (and line); a blank line is no record and no error",
     "message, exit code, no traceback")
def test_results_that_are_no_records(capsys, tmp_path):
    deep, null_line, blank = tmp_path / "deep", tmp_path / "null", tmp_path / "blank"
    record = json.dumps(synthetic_record("m", 1, 1, None, 10.0, [1.0]))
    for folder, tail in ((deep, "[" * 100_000 + "]" * 100_000 + "\n"), (null_line, "null\n"), (blank, "\n")):
        folder.mkdir()
        (folder / "results.jsonl").write_text(record + "\n" + tail)
    for folder in (deep, null_line):
        code, err = cli(capsys, "report", folder, "-o", tmp_path / "report")
        assert code == 2 and f"{folder / 'results.jsonl'}, line 2: not an infermeter sweep record" in err, err
    code, err = cli(capsys, "report", blank, "-o", tmp_path / "report")
    assert code == 0 and "ignoring" not in err, err
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    code, err = cli(capsys, "dashboard", listed, "--format", "bencher", "-o", tmp_path / "d.json")
    assert code == 2 and f"{listed}: not an infermeter result (a JSON list, not an object)" in err


# ------------------------------------------------------------------ the docs

def test_docs_table_is_current():
    assert markdown_table(ROWS) in DOCS.read_text(), f"{DOCS} lacks the current table: paste the one printed below"
