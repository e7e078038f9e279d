"""`make sanitize`: infermeter-bench built with AddressSanitizer +
UndefinedBehaviorSanitizer and, separately, with ThreadSanitizer, then run on
small models: 1, 2, 4 and 8 client threads with per-thread and shared
replicas, an open loop, a statistical stop, fresh-process repeats, a model
that fails mid-run, a corrupt model file and a Ctrl-C mid-run. Fails on any
sanitizer report or an unexpected exit code.

Usage: python3 tests/sanitize/run_sanitizers.py [address] [thread]   (default: both)

Builds live in build/sanitize-<name> and are reused; every run's output is
kept in build/sanitize-<name>/logs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import infermeter  # registers torch.ops.infermeter.spin, which the spin model is scripted against
from infermeter.known_latency import FailsOnNthRequest, Spin

ROOT = Path(__file__).resolve().parents[2]
# A distinct exit code, so a report shows in the exit code as well as in the output.
REPORT_EXIT = 86


@dataclass(frozen=True)
class Sanitizer:
    name: str  # the CMake option's value
    env: dict[str, str]
    markers: tuple[str, ...]  # text that only a sanitizer report contains


SANITIZERS = {
    "address": Sanitizer(
        "address",
        {
            "ASAN_OPTIONS": f"detect_leaks=1:exitcode={REPORT_EXIT}:check_initialization_order=1",
            "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:exitcode={REPORT_EXIT}",
        },
        ("AddressSanitizer", "LeakSanitizer", "runtime error:"),
    ),
    "thread": Sanitizer(
        "thread",
        {"TSAN_OPTIONS": f"exitcode={REPORT_EXIT}:halt_on_error=0:second_deadlock_stack=1"},
        ("ThreadSanitizer",),
    ),
}


def export_models(folder: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    corrupt = folder / "corrupt.pt"
    corrupt.write_bytes(random.Random(0).randbytes(4096))
    return {
        "corrupt": corrupt,
        "linear": infermeter.save_torchscript(torch.nn.Linear(16, 4), torch.randn(2, 16), folder / "linear.pt",
                                              input_names=["x"]),
        "spin": infermeter.save_torchscript(Spin(100_000), torch.zeros(1, 8), folder / "spin.pt", method="script",
                                            input_names=["x"]),
        "fails": infermeter.save_torchscript(FailsOnNthRequest(50), torch.rand(1, 16), folder / "fails.pt",
                                             method="script", input_names=["x"]),
    }


@dataclass(frozen=True)
class Run:
    label: str
    model: str
    args: tuple[str, ...]
    exit_code: int = 0
    expect_in_stderr: str = ""


SHORT = ("--warmup", "0.2", "--duration", "1", "--no-calibrate")
RUNS = [
    *(Run(f"threads{t}-{replicas}", "linear", ("--threads", str(t), "--replicas", replicas, *SHORT))
      for t in (1, 2, 4, 8) for replicas in ("per-thread", "shared")),
    Run("calibrated-hlog", "linear", ("--threads", "2", "--duration", "1", "--hlog", "{work}/run.hlog")),
    Run("open-loop", "spin", ("--threads", "2", "--rate", "2000", *SHORT)),
    Run("ci-stop", "spin", ("--threads", "2", "--ci", "0.05", "--min-duration", "0.5", "--duration", "20",
                            "--no-calibrate")),
    Run("repeat", "linear", ("--repeat", "2", "--threads", "2", "--warmup", "0.1", "--duration", "0.5",
                             "--no-calibrate", "--json", "{work}/repeat.json")),
    *(Run(f"fails-{replicas}", "fails", ("--threads", "4", "--replicas", replicas, "--duration", "30",
                                         "--no-calibrate"), 1, "broke on purpose")
      for replicas in ("per-thread", "shared")),
    Run("corrupt-model", "corrupt", ("--threads", "2", "--no-calibrate"), 1, "as a TorchScript model"),
]


def build(sanitizer: Sanitizer) -> Path:
    folder = ROOT / "build" / f"sanitize-{sanitizer.name}"
    if not (folder / "CMakeCache.txt").exists():
        pybind11_dir = subprocess.run([sys.executable, "-m", "pybind11", "--cmakedir"], capture_output=True,
                                      text=True, check=True).stdout.strip()
        # Optimised as shipped, with line numbers for the reports.
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(folder), "-G", "Ninja",
                        f"-DINFERMETER_SANITIZE={sanitizer.name}", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                        f"-DPython_EXECUTABLE={sys.executable}", f"-Dpybind11_DIR={pybind11_dir}"], check=True)
    # Two jobs: the machines this runs on have two cores.
    subprocess.run(["cmake", "--build", str(folder), "--target", "infermeter-bench", "--parallel", "2"], check=True)
    return folder / "infermeter-bench"


def reports_in(text: str, sanitizer: Sanitizer) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in sanitizer.markers)]


def handler_installed(pid: int, signum: int) -> bool:
    """Whether the process catches `signum` yet (SigCgt in /proc): before its
    main installs the handler, a SIGINT would just kill it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # it has exited already: the caller sees that
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def interrupt_mid_run(binary: Path, model: Path, work: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Ctrl-C two seconds after the binary's handler is in place (its model
    loaded and measuring by then): exit 130 and a partial result written are
    expected. Returns exit code, output and a problem (or "")."""
    out = work / "interrupted.json"
    proc = subprocess.Popen([str(binary), str(model), "--threads", "4", "--warmup", "0.2", "--duration", "120",
                             "--no-calibrate", "--json", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    while proc.poll() is None and not handler_installed(proc.pid, signal.SIGINT):
        time.sleep(0.05)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    if proc.returncode != 130:
        return proc.returncode, output, f"exit {proc.returncode}, expected 130"
    if not out.exists():
        return proc.returncode, output, "no result written"
    measurement = json.loads(out.read_text())["measurement"]
    if not (measurement["interrupted"] and measurement["requests"] > 0):
        return proc.returncode, output, f"result not an interrupted measurement: {measurement}"
    return proc.returncode, output, ""


def run_all(sanitizer: Sanitizer, binary: Path, models: dict[str, Path], work: Path) -> list[str]:
    """Runs every scenario under `sanitizer`; returns the problems found."""
    env = {**os.environ, **sanitizer.env}
    logs = binary.parent / "logs"
    logs.mkdir(exist_ok=True)
    problems = []

    def judge(label: str, code: int, output: str, problem: str, seconds: float) -> None:
        (logs / f"{label}.log").write_text(output)
        reports = reports_in(output, sanitizer)
        if reports:
            problem = "; ".join(filter(None, [problem, f"{len(reports)} sanitizer report line(s)"]))
        status = f"FAIL: {problem} (see {logs / (label + '.log')})" if problem else "ok"
        print(f"[{sanitizer.name}] {label:<24} exit {code:<4} {seconds:6.1f} s  {status}", flush=True)
        if reports:
            print(output, flush=True)
        if problem:
            problems.append(f"{sanitizer.name} {label}: {problem}")

    for run in RUNS:
        args = [a.format(work=work) for a in run.args]
        started = time.monotonic()
        proc = subprocess.run([str(binary), str(models[run.model]), *args], capture_output=True, text=True,
                              env=env, timeout=300)
        output = proc.stdout + proc.stderr
        problem = ""
        if proc.returncode != run.exit_code:
            problem = f"exit {proc.returncode}, expected {run.exit_code}"
        elif run.expect_in_stderr not in proc.stderr:
            problem = f"stderr lacks {run.expect_in_stderr!r}"
        judge(run.label, proc.returncode, output, problem, time.monotonic() - started)

    started = time.monotonic()
    code, output, problem = interrupt_mid_run(binary, models["linear"], work, env)
    judge("sigint", code, output, problem, time.monotonic() - started)
    return problems


def main(names: list[str]) -> int:
    problems = []
    with tempfile.TemporaryDirectory(prefix="infermeter-sanitize-") as tmp:
        work = Path(tmp)
        models = export_models(work)
        for name in names or list(SANITIZERS):
            sanitizer = SANITIZERS[name]
            started = time.monotonic()
            binary = build(sanitizer)
            built = time.monotonic()
            print(f"[{name}] built in {built - started:.0f} s", flush=True)
            problems += run_all(sanitizer, binary, models, work)
            print(f"[{name}] ran in {time.monotonic() - built:.0f} s", flush=True)
    for problem in problems:
        print(f"FAIL {problem}")
    print("sanitizers: " + ("FAIL" if problems else "no reports, every exit code as expected"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
