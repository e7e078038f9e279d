"""Ctrl-C stops a long run promptly: the binary keeps what it measured, Python
raises KeyboardInterrupt; neither hangs nor crashes."""

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
