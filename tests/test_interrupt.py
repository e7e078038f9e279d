"""Ctrl-C (and SIGTERM, a scheduler's stop) stops a long run promptly: the
binary keeps what it measured, Python raises KeyboardInterrupt; neither hangs
nor crashes."""

import json
import signal
import subprocess
import sys
import time


def interrupt_once_measuring(proc):
    """SIGINT once the binary says warm-up is done (its progress line), so
    the signal lands while measuring however slow the machine."""
    assert "measuring" in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=30)


def interrupt_after(proc, seconds):
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=30)


def test_binary_writes_partial_result_on_sigint(bench_binary, linear_model, tmp_path):
    out = tmp_path / "partial.json"
    proc = subprocess.Popen([str(bench_binary), str(linear_model), "--duration", "60", "--warmup", "0.2",
                             "--no-calibrate", "--json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    started = time.monotonic()
    stdout, _ = interrupt_once_measuring(proc)
    assert proc.returncode == 130
    assert time.monotonic() - started < 10
    doc = json.loads(out.read_text())
    assert doc["measurement"]["interrupted"] is True
    assert doc["measurement"]["requests"] > 0
    assert "(interrupted)" in stdout


def test_python_raises_keyboard_interrupt_carrying_the_partial_result(linear_model):
    # The child says when it is about to measure, so the signal never lands
    # during its imports on a slow machine. Calibration is on: Ctrl-C skips it.
    code = ("import infermeter, sys\n"
            "print('measuring', flush=True)\n"
            "try:\n"
            f"    infermeter.benchmark({str(linear_model)!r}, duration=60, warmup=0.2)\n"
            "except infermeter.Interrupted as e:\n"
            "    d = e.result.to_dict()\n"
            "    assert isinstance(e, KeyboardInterrupt)\n"
            "    print('stopped', d['measurement']['interrupted'], d['measurement']['requests'] > 0,\n"
            "          d['calibration'] is None); sys.exit(7)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "measuring"
    started = time.monotonic()
    # 'measuring' is printed before the model loads and warms up (0.2 s): 3 s leaves a slow machine room.
    stdout, stderr = interrupt_after(proc, 3.0)
    assert proc.returncode == 7, stderr
    assert "stopped True True True" in stdout
    assert time.monotonic() - started < 15


def test_binary_skips_calibration_after_sigint(bench_binary, linear_model, tmp_path):
    out = tmp_path / "partial.json"
    proc = subprocess.Popen([str(bench_binary), str(linear_model), "--duration", "60", "--warmup", "0.2",
                             "--json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    interrupt_once_measuring(proc)
    assert proc.returncode == 130 and time.monotonic() - started < 10
    doc = json.loads(out.read_text())
    assert doc["measurement"]["interrupted"] is True and doc["calibration"] is None


def wait_for_sigterm_handler(proc, timeout_s=60.0):
    """Until the process catches SIGTERM (its SigCgt mask in /proc), so that
    the signal never lands during its imports, where it would still kill."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        caught = next(line for line in open(f"/proc/{proc.pid}/status") if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.05)
    raise AssertionError(f"the process never caught SIGTERM: {proc.communicate()}")


def test_cli_run_stops_on_sigterm_and_keeps_what_it_measured(linear_model, tmp_path):
    """A scheduler's stop (Kubernetes, AWS Batch) is SIGTERM: the CLI takes
    it as Ctrl-C, as infermeter-bench does, instead of dying with the result lost."""
    out = tmp_path / "partial.json"
    proc = subprocess.Popen([sys.executable, "-m", "infermeter.cli", "run", str(linear_model), "--duration", "60",
                             "--warmup", "0.2", "--json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for_sigterm_handler(proc)
    started = time.monotonic()
    time.sleep(3.0)  # the model loads and warms up (0.2 s) well within this on a slow machine
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert time.monotonic() - started < 15
    doc = json.loads(out.read_text())
    assert doc["measurement"]["interrupted"] is True and doc["measurement"]["requests"] > 0
    assert "(interrupted)" in stdout


def test_cli_export_stops_on_sigterm_and_leaves_no_file(tmp_path):
    """SIGTERM while a model is built and traced: exit 130, neither the
    output nor a scratch file left in the folder."""
    proc = subprocess.Popen([sys.executable, "-m", "infermeter.cli", "export", "resnet18", "-o",
                             str(tmp_path / "r.pt")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("exporting resnet18")  # printed once SIGTERM is caught
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "infermeter: interrupted" in stderr and "Traceback" not in stderr, stderr
    assert list(tmp_path.iterdir()) == []
