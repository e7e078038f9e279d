"""Soak: infermeter-bench on the CPU for --duration seconds (default 600)
with a small model and 2 client threads, as ONE measurement in one process,
so that memory the engine keeps over the whole run shows as growth.

Resident memory (VmRSS) and CPU time are sampled from /proc every few seconds
from outside the process; throughput per minute comes from the result's
timeline, whose windows are set to a minute. The cores the process got each
minute tell a drift of the engine's own from other work on a shared machine
taking cores away.

Goals: resident memory grows < 1% while measuring, from the end of minute 1
to the last sample before the result is written; and the last minute's
throughput is within 10% of a fresh process's, measured right after on the
same machine (the control: a shared VM's speed alone moves by 10% or more
between minutes, so minute against minute tells nothing about the engine).
Exits 1 when a goal is missed.

Usage: python3 benchmarks/soak.py [--duration 600] [--threads 2] [--model M.pt]"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import infermeter

MINUTE_S = 60.0
MAX_MEMORY_GROWTH = 0.01
# The soaked process's last minute against a fresh process measured right
# after it: a shared VM's own speed moves by 10% or more from minute to
# minute, so only a fresh process on the same machine at the same time tells
# an engine that slows down from a machine that does.
MAX_DRIFT_FROM_FRESH = 0.10
CONTROL_S = 60.0
# Samples this close to the exit may be the result being written, not the run.
EXIT_MARGIN_S = 3.0


def find_binary() -> Path:
    """The infermeter-bench installed beside this Python's package."""
    beside = Path(sysconfig.get_path("scripts")) / "infermeter-bench"
    found = beside if beside.exists() else shutil.which("infermeter-bench")
    if not found:
        sys.exit("soak: infermeter-bench is not installed beside the infermeter package")
    return Path(found)


def export_small_model(folder: Path) -> Path:
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    return infermeter.save_torchscript(mlp, torch.randn(4, 64), folder / "mlp.pt", input_names=["x"])


@dataclass(frozen=True)
class Sample:
    at_s: float  # since the process started
    rss_mib: float
    cpu_s: float  # user + system time of all its threads


def sample(pid: int, at_s: float) -> Sample | None:
    """The process's resident memory and CPU time, or None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), None)
    if kib is None:  # a zombie has no memory left to report
        return None
    # utime and stime are fields 14 and 15; the command name before them may hold spaces.
    utime, stime = stat.rsplit(")", 1)[1].split()[11:13]
    return Sample(at_s, int(kib) / 1024, (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK"))


def run_and_sample(cmd: list[str], sample_every_s: float) -> tuple[list[Sample], float]:
    """Runs `cmd`, sampling it; prints its RSS each minute. Returns the
    samples and when (seconds since start) the process exited."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples: list[Sample] = []
    next_print_s = MINUTE_S
    while True:
        try:
            # Waiting rather than sleeping: the exit time is known at once, and
            # the measurement's start is reckoned back from it.
            proc.wait(timeout=sample_every_s)
            break
        except subprocess.TimeoutExpired:
            pass
        now = sample(proc.pid, time.monotonic() - started)
        if now is None:
            continue
        samples.append(now)
        if now.at_s >= next_print_s:
            print(f"  {now.at_s:6.0f} s since start  RSS {now.rss_mib:8.1f} MiB", flush=True)
            next_print_s += MINUTE_S
    exited = time.monotonic() - started
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"soak: infermeter-bench exited {proc.returncode}:\n{stdout}{stderr}")
    return samples, exited


def sample_at(samples: list[Sample], t: float) -> Sample:
    """The last sample taken at or before `t`."""
    before = [s for s in samples if s.at_s <= t]
    if not before:
        sys.exit(f"soak: no sample before {t:.0f} s")
    return before[-1]


@dataclass(frozen=True)
class Minute:
    rss_mib: float  # at its end
    inferences_per_s: float
    cores: float  # CPU-seconds the process got per second

    @property
    def per_cpu_s(self) -> float:
        """Inferences per CPU-second: unchanged when other processes take
        cores away, so it tells a busy machine from a slower engine."""
        return self.inferences_per_s / self.cores


def measuring_from(result: dict, exited_s: float) -> float:
    """When measuring began, seconds since the start: nothing runs after it
    but writing the result (calibration is off), so `elapsed_s` before the exit."""
    return exited_s - result["measurement"]["elapsed_s"]


def minutes_of(result: dict, samples: list[Sample], exited_s: float) -> list[Minute]:
    """Each whole minute measured (the last window, cut short by the stop, is left out)."""
    measured_s = result["measurement"]["elapsed_s"]
    measuring_from_s = measuring_from(result, exited_s)
    count = int(measured_s // MINUTE_S)
    batch = result["config"]["batch_size"]
    completions = result["timeline"]["completions"]
    bounds = [sample_at(samples, measuring_from_s + k * MINUTE_S) for k in range(count + 1)]
    return [Minute(end.rss_mib, completions[k] * batch / MINUTE_S, (end.cpu_s - begin.cpu_s) / (end.at_s - begin.at_s))
            for k, (begin, end) in enumerate(zip(bounds, bounds[1:]))]


def steady_growth(samples: list[Sample], measuring_from_s: float, exited_s: float) -> float:
    """RSS growth while measuring: from the end of minute 1 to the last
    sample before the result is written."""
    steady = [s for s in samples if measuring_from_s + MINUTE_S <= s.at_s <= exited_s - EXIT_MARGIN_S]
    if len(steady) < 2:
        sys.exit("soak: too few memory samples while measuring")
    return steady[-1].rss_mib / steady[0].rss_mib - 1


def report(minutes: list[Minute], growth: float, peak_rss_mib: float, fresh_per_s: float) -> bool:
    """Prints the minutes and the verdict against the goals; True on a pass."""
    print(f"\n{'minute':>6} {'RSS MiB':>9} {'inferences/s':>13} {'cores used':>11} {'per CPU-s':>10}")
    for k, m in enumerate(minutes, 1):
        print(f"{k:>6} {m.rss_mib:>9.1f} {m.inferences_per_s:>13.0f} {m.cores:>11.2f} {m.per_cpu_s:>10.0f}")
    first, last = minutes[0], minutes[-1]
    mean = statistics.fmean(m.inferences_per_s for m in minutes)
    max_deviation = max(abs(m.inferences_per_s / mean - 1) for m in minutes)
    drift = last.inferences_per_s / fresh_per_s - 1
    memory_ok = growth < MAX_MEMORY_GROWTH
    throughput_ok = abs(drift) <= MAX_DRIFT_FROM_FRESH
    print(f"\nmemory      {growth:+.2%} RSS while measuring, from the end of minute 1 (peak sample "
          f"{peak_rss_mib:.1f} MiB); goal < {MAX_MEMORY_GROWTH:.0%}: {'PASS' if memory_ok else 'FAIL'}")
    print(f"throughput  last minute {last.inferences_per_s:.0f}/s against a fresh process right after, "
          f"{fresh_per_s:.0f}/s: {drift:+.2%}; goal within {MAX_DRIFT_FROM_FRESH:.0%}: "
          f"{'PASS' if throughput_ok else 'FAIL'}")
    print(f"machine     minutes vary up to {max_deviation:.1%} from their mean; last vs first minute "
          f"{last.inferences_per_s / first.inferences_per_s - 1:+.2%}, per CPU-second "
          f"{last.per_cpu_s / first.per_cpu_s - 1:+.2%}")
    print(f"soak: {'PASS' if memory_ok and throughput_ok else 'FAIL'}")
    return memory_ok and throughput_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="measuring time in seconds (at least 120)")
    parser.add_argument("--threads", type=int, default=2, help="client threads")
    parser.add_argument("--model", type=Path, help="TorchScript model exported by infermeter (default: a small MLP)")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between memory samples")
    args = parser.parse_args()
    if args.duration < 2 * MINUTE_S:
        parser.error("--duration must be at least 120: growth is measured from the end of minute 1")

    with tempfile.TemporaryDirectory(prefix="infermeter-soak-") as tmp:
        model = args.model or export_small_model(Path(tmp))
        result_path = Path(tmp) / "soak.json"
        cmd = [str(find_binary()), str(model), "--threads", str(args.threads), "--duration", str(args.duration),
               "--window", str(MINUTE_S), "--warmup", "2", "--no-calibrate", "--json", str(result_path)]
        print(" ".join(cmd), flush=True)
        samples, exited_s = run_and_sample(cmd, args.sample_every)
        result = json.loads(result_path.read_text())
        control = cmd[:cmd.index("--duration") + 1] + [str(CONTROL_S)] + cmd[cmd.index("--duration") + 2:]
        print(f"control: a fresh process for {CONTROL_S:.0f} s", flush=True)
        run_and_sample(control, args.sample_every)
        fresh = json.loads(result_path.read_text())["measurement"]["inferences_per_s"]
    growth = steady_growth(samples, measuring_from(result, exited_s), exited_s)
    passed = report(minutes_of(result, samples, exited_s), growth, max(s.rss_mib for s in samples), fresh)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
