"""infermeter's open loop against MLPerf LoadGen's Server scenario, on one
model of known service time (`torch.ops.infermeter.spin`, a busy-wait of
exactly `--service-ms`) driven at the same Poisson rates by both. Prints a
Markdown table: response time as each harness reports it (from a request's
scheduled arrival to its completion), the achieved rate, the M/D/1 mean as
ground truth, and what each harness itself costs per request. A figure, not
a test: run it on a quiet machine.

    python3 benchmarks/vs_loadgen.py [--service-ms 1] [--rates 500,800]
        [--threads 1] [--duration 20] [--log-dir DIR]

Needs `pip install mlcommons-loadgen` (import name `mlperf_loadgen`).

LoadGen's SUT here is what a Python user of LoadGen writes: `issue_queries`
puts each query on a `queue.Queue` served by `--threads` Python worker
threads, each calling the spin op and then `lg.QuerySamplesComplete`. The
spin op holds the GIL (it is a C++ busy-wait called from Python), so that
SUT's costs are Python's, not those of LoadGen's C++ core; the 0 ms rows and
the notes under the table split the two apart.
"""

from __future__ import annotations

import argparse
import heapq
import queue
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

import infermeter
from infermeter.known_latency import Spin

try:
    import mlperf_loadgen as lg
except ImportError:
    sys.exit("vs_loadgen: mlperf_loadgen is not installed; run: pip install mlcommons-loadgen")

# The harness-cost rows: nothing to serve, at a rate low enough that requests
# almost never queue, so the whole response time is the harness's own path.
IDLE_RATE_PER_S = 100.0
IDLE_DURATION_S = 5.0
NS_PER_MS = 1_000_000
SEED = 0


@dataclass
class Row:
    harness: str
    service_ms: float
    rate: float
    threads: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    achieved_rate: float
    # The same arrivals through a perfect server: response times that differ
    # from it are the harness's and the machine's doing, not the schedule's.
    ideal_mean_ms: float
    ideal_p99_ms: float
    # How long a worker was taken up per request, on average: the service
    # time plus what the harness (and the machine) added to it.
    held_mean_ms: float
    harness_cost: str


# ---------------------------------------------------------------- theory


def utilisation(rate: float, service_ms: float, threads: int) -> float:
    return rate * service_ms / 1e3 / threads


def md1_mean_ms(rate: float, service_ms: float) -> float:
    """M/D/1 mean response time: S + rho*S / (2(1 - rho))."""
    rho = utilisation(rate, service_ms, 1)
    return float("inf") if rho >= 1 else service_ms + rho * service_ms / (2 * (1 - rho))


def ideal_response_ms(arrivals_ns: list[float], service_ms: float, threads: int) -> tuple[float, float]:
    """Mean and p99 response time of `threads` perfect FIFO workers, each
    taking exactly the service time, on these arrivals (Lindley's recursion)."""
    service_ns = service_ms * NS_PER_MS
    worker_free_ns = [float("-inf")] * threads
    responses_ms = []
    for arrival in arrivals_ns:
        done = max(arrival, heapq.heappop(worker_free_ns)) + service_ns
        heapq.heappush(worker_free_ns, done)
        responses_ms.append((done - arrival) / NS_PER_MS)
    return sum(responses_ms) / len(responses_ms), percentile(responses_ms, 0.99)


def percentile(values: list[float], fraction: float) -> float:
    """LoadGen's own rule: the value at index floor(n * fraction), sorted."""
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


# ---------------------------------------------------------------- infermeter


def run_infermeter(model_path: Path, service_ms: float, rate: float, threads: int, duration_s: float) -> Row:
    r = infermeter.benchmark(model_path, inputs=torch.zeros(1), threads=threads, rate=rate, arrival="poisson",
                             duration=duration_s, warmup=0.5, seed=SEED, calibrate=True)
    response, service, dispatch = r.response_latency, r.latency, r.dispatch_latency
    # Arrivals are served in order, so the completed ones are the schedule's first.
    arrivals = infermeter._native.arrival_offsets("poisson", rate, response.count, SEED)
    floor_us = r.calibration["request_floor_ns"] / 1e3
    cost = f"floor {floor_us:.1f} µs; dispatch p50 {dispatch.p50 * 1e3:.1f} / p99 {dispatch.p99 * 1e3:.1f} µs"
    # A worker is taken from when it could start a request (dispatch counts
    # from then) until the request completes.
    return Row("infermeter", service_ms, rate, threads, response.mean, response.p50, response.p99,
               r.load_info["achieved_rate_per_s"], *ideal_response_ms(arrivals, service_ms, threads),
               dispatch.mean + service.mean, cost)


# ---------------------------------------------------------------- LoadGen


class QueuedSpinSUT:
    """LoadGen's system under test: a FIFO of queries served by Python worker
    threads, each spinning `ns` and then completing the query."""

    def __init__(self, ns: int, threads: int):
        self.ns = ns
        self.input = torch.zeros(1)
        self.pending: queue.Queue = queue.Queue()
        self.workers = [threading.Thread(target=self._serve, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "QueuedSpinSUT":
        # The first calls through torch's dispatcher are slow; LoadGen has no
        # warm-up phase, so warm the op before the test rather than in it.
        for _ in range(100):
            torch.ops.infermeter.spin(self.input, 0)
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        for _ in self.workers:
            self.pending.put(None)
        for worker in self.workers:
            worker.join()

    def issue_queries(self, samples) -> None:
        for sample in samples:
            self.pending.put(sample)

    def flush_queries(self) -> None:
        pass

    def _serve(self) -> None:
        while (sample := self.pending.get()) is not None:
            torch.ops.infermeter.spin(self.input, self.ns)
            lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, 0, 0)])


def loadgen_settings(rate: float, duration_s: float) -> lg.TestSettings:
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.Server
    settings.mode = lg.TestMode.PerformanceOnly
    settings.server_target_qps = rate
    settings.schedule_rng_seed = SEED
    # The Server scenario generates arrivals for min_duration; the query count
    # floor is set low so that the duration alone decides the run's length.
    settings.min_duration_ms = int(duration_s * 1e3)
    settings.min_query_count = 100
    # Only the latency distribution is compared, not LoadGen's VALID verdict:
    # a bound no run reaches keeps that verdict out of the way.
    settings.server_target_latency_ns = 10 * 1_000_000_000
    return settings


def run_loadgen_test(ns: int, rate: float, threads: int, duration_s: float, log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    # The trace (on by default) holds each query's issue delay and
    # issue-to-done time, which is what separates LoadGen's costs from the SUT's.
    log_settings.enable_trace = True
    with QueuedSpinSUT(ns, threads) as sut:
        sut_handle = lg.ConstructSUT(sut.issue_queries, sut.flush_queries)
        # Every query sends the same tensor, so the samples' indices are moot.
        qsl_handle = lg.ConstructQSL(1024, 1024, lambda indices: None, lambda indices: None)
        try:
            lg.StartTestWithLogSettings(sut_handle, qsl_handle, loadgen_settings(rate, duration_s), log_settings)
        finally:
            lg.DestroyQSL(qsl_handle)
            lg.DestroySUT(sut_handle)


def read_summary(log_dir: Path) -> dict[str, str]:
    """mlperf_log_summary.txt's `name : value` lines."""
    text = (log_dir / "mlperf_log_summary.txt").read_text()
    return {m[1].strip(): m[2] for m in re.finditer(r"^([^:\n]+?)\s*:\s*(\S+)\s*$", text, re.MULTILINE)}


@dataclass
class TracedQuery:
    scheduled_ns: float  # from LoadGen's start
    issue_delay_ns: int  # scheduled -> LoadGen's issue thread calls the SUT
    issue_to_done_ns: int  # -> the SUT calls QuerySamplesComplete

    @property
    def done_ns(self) -> float:
        return self.scheduled_ns + self.issue_delay_ns + self.issue_to_done_ns


def read_trace(log_dir: Path) -> list[TracedQuery]:
    """The per-query "Latency" counter events of mlperf_log_trace.json, read
    line by line: LoadGen's trace is not always valid JSON as a whole."""
    pattern = re.compile(r'"name":"Latency".*?"ts":([\d.]+).*?"issue_delay":(\d+),\s*"issue_to_done":(\d+)')
    queries = [TracedQuery(float(m[1]) * 1e3, int(m[2]), int(m[3]))
               for m in pattern.finditer((log_dir / "mlperf_log_trace.json").read_text())]
    return sorted(queries, key=lambda q: q.scheduled_ns)


def held_times_ns(queries: list[TracedQuery], threads: int) -> list[tuple[float, bool]]:
    """For each query, how long it held a worker, from when it could have
    started (scheduled and a worker free, FIFO) to completion, and whether it
    found a worker free when it arrived. Minus the service time, this is
    LoadGen plus its Python SUT's cost per query, the counterpart of
    infermeter's dispatch latency plus floor."""
    worker_free_ns = [float("-inf")] * threads
    held = []
    for q in queries:
        free_ns = heapq.heappop(worker_free_ns)
        held.append((q.done_ns - max(q.scheduled_ns, free_ns), free_ns <= q.scheduled_ns))
        heapq.heappush(worker_free_ns, q.done_ns)
    return held


def loadgen_cost(held: list[tuple[float, bool]], service_ms: float) -> str:
    """The held time beyond the service, as p50s for queries that found a
    worker idle and for those that queued, and one p99. They are two costs:
    an idle arrival pays LoadGen's wake-up from sleep_until and the hand-off
    to a Python worker asleep in queue.get; a queued one is taken as soon as
    the worker is free."""
    overhead_us: dict[bool, list[float]] = {True: [], False: []}
    for held_ns, found_idle in held:
        overhead_us[found_idle].append(held_ns / 1e3 - service_ms * 1e3)
    p50s = ", ".join(f"{percentile(overhead_us[found_idle], 0.5):.0f} µs {label}"
                     for found_idle, label in ((True, "if idle"), (False, "if queued")) if overhead_us[found_idle])
    return f"per query p50 {p50s}; p99 {percentile(overhead_us[True] + overhead_us[False], 0.99):.0f} µs"


def run_loadgen(service_ms: float, rate: float, threads: int, duration_s: float, log_dir: Path) -> tuple[Row, str]:
    run_loadgen_test(round(service_ms * NS_PER_MS), rate, threads, duration_s, log_dir)
    summary, queries = read_summary(log_dir), read_trace(log_dir)
    held = held_times_ns(queries, threads)
    row = Row("LoadGen", service_ms, rate, threads,
              int(summary["Mean latency (ns)"]) / NS_PER_MS,
              int(summary["50.00 percentile latency (ns)"]) / NS_PER_MS,
              int(summary["99.00 percentile latency (ns)"]) / NS_PER_MS,
              float(summary["Completed samples per second"]),
              *ideal_response_ms([q.scheduled_ns for q in queries], service_ms, threads),
              sum(held_ns for held_ns, _ in held) / len(held) / NS_PER_MS, loadgen_cost(held, service_ms))
    note = (f"LoadGen, service {service_ms:g} ms at {rate:g}/s: scheduled {summary['Scheduled samples per second']}/s; "
            f"p50 issue delay (scheduled -> its C++ issue thread calls the SUT) "
            f"{percentile([q.issue_delay_ns for q in queries], 0.5) / 1e3:.0f} µs, "
            f"p50 issue -> QuerySamplesComplete {percentile([q.issue_to_done_ns for q in queries], 0.5) / 1e3:.0f} µs")
    return row, note


# ---------------------------------------------------------------- report


def print_table(rows: list[Row]) -> None:
    print("| harness | service ms | rate /s | util | mean ms | p50 ms | p99 ms | achieved /s | M/D/1 mean ms "
          "| ideal mean / p99 ms, own arrivals | held beyond service, mean µs | M/D/1 mean ms at held time "
          "| harness cost |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        # M/D/1 is the single-worker queue; with more workers it does not apply.
        theory = ((f"{md1_mean_ms(r.rate, r.service_ms):.3f}", f"{md1_mean_ms(r.rate, r.held_mean_ms):.3f}")
                  if r.threads == 1 else ("n/a", "n/a"))
        print(f"| {r.harness} | {r.service_ms:g} | {r.rate:g} | {utilisation(r.rate, r.service_ms, r.threads):.2f} "
              f"| {r.mean_ms:.3f} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {r.achieved_rate:.1f} | {theory[0]} "
              f"| {r.ideal_mean_ms:.3f} / {r.ideal_p99_ms:.3f} | {(r.held_mean_ms - r.service_ms) * 1e3:.0f} "
              f"| {theory[1]} | {r.harness_cost} |")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--service-ms", type=float, default=1.0, help="the model's service time (default 1)")
    p.add_argument("--rates", default="500,800", help="comma-separated Poisson rates per second (default 500,800)")
    p.add_argument("--threads", type=int, default=1,
                   help="workers in both harnesses (default 1); LoadGen's Python workers share the GIL")
    p.add_argument("--duration", type=float, default=20.0, help="seconds measured per run (default 20)")
    p.add_argument("--log-dir", type=Path, help="keep LoadGen's logs here (default: a temporary directory)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    # Every (service, rate) pair asked for, then the harness-cost pair.
    runs = [(args.service_ms, rate, args.duration) for rate in rates] + [(0.0, IDLE_RATE_PER_S, IDLE_DURATION_S)]
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="vs-loadgen-") as tmp:
        log_root = args.log_dir or Path(tmp)
        for service_ms, rate, duration_s in runs:
            print(f"service {service_ms:g} ms at {rate:g}/s, {duration_s:g} s per harness ...", file=sys.stderr,
                  flush=True)
            row, note = run_loadgen(service_ms, rate, args.threads, duration_s,
                                    log_root / f"loadgen_{service_ms:g}ms_{rate:g}")
            model = infermeter.save_torchscript(Spin(round(service_ms * NS_PER_MS)), torch.zeros(1),
                                                Path(tmp) / f"spin_{service_ms:g}ms.pt", method="script")
            rows += [row, run_infermeter(model, service_ms, rate, args.threads, duration_s)]
            notes.append(note)
    print_table(rows)
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
