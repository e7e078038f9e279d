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
SUT's costs are Python's, not those of LoadGen's C++ core; the 0 ns rows
split the two apart.
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

try:
    import mlperf_loadgen as lg
except ImportError:
    sys.exit("vs_loadgen: mlperf_loadgen is not installed; run: pip install mlcommons-loadgen")

# The harness-cost rows: nothing to serve, at a rate low enough that requests
# never queue, so the whole response time is the harness's own path.
IDLE_RATE_PER_S = 100.0
IDLE_DURATION_S = 5.0
NS_PER_MS = 1_000_000


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
    # Mean and mean square of the time a worker was held per request
    # (service plus the harness's own cost), for the M/G/1 expectation.
    held_mean_ms: float
    held_mean_square_ms2: float
    harness_cost: str


class SpinModel(torch.nn.Module):
    def __init__(self, ns: int):
        super().__init__()
        self.ns = ns

    def forward(self, x):
        return torch.ops.infermeter.spin(x, self.ns)


# ---------------------------------------------------------------- theory


def utilisation(rate: float, service_ms: float, threads: int) -> float:
    return rate * service_ms / 1e3 / threads


def md1_mean_ms(rate: float, service_ms: float) -> float:
    """M/D/1 mean response time: S + rho*S / (2(1 - rho))."""
    rho = utilisation(rate, service_ms, 1)
    return float("inf") if rho >= 1 else service_ms + rho * service_ms / (2 * (1 - rho))


def mg1_mean_ms(rate: float, held_mean_ms: float, held_mean_square_ms2: float) -> float:
    """Pollaczek-Khinchine mean response time for a server held E[X] per
    request: what M/D/1 becomes once each harness's own per-request cost is
    added to the service time. A gap between a harness's measured mean and
    this is not explained by its per-request cost."""
    rho = rate * held_mean_ms / 1e3
    if rho >= 1:
        return float("inf")
    return held_mean_ms + rate / 1e3 * held_mean_square_ms2 / (2 * (1 - rho))


# ---------------------------------------------------------------- infermeter


def run_infermeter(model_path: Path, service_ms: float, rate: float, threads: int, duration_s: float) -> Row:
    r = infermeter.benchmark(model_path, inputs=torch.zeros(1), threads=threads, rate=rate, arrival="poisson",
                             duration=duration_s, warmup=0.5, seed=0, calibrate=True)
    response, service, dispatch = r.response_latency, r.latency, r.dispatch_latency
    # A worker is held from when it could take a request (dispatch starts
    # then) to completion: dispatch plus the timed service.
    held_mean = dispatch.mean + service.mean
    floor_us = r.calibration["request_floor_ns"] / 1e3
    cost = f"floor {floor_us:.1f} µs; dispatch p50 {dispatch.p50 * 1e3:.1f} / p99 {dispatch.p99 * 1e3:.1f} µs"
    return Row("infermeter", service_ms, rate, threads, response.mean, response.p50, response.p99,
               r.load_info["achieved_rate_per_s"], held_mean, held_mean ** 2 + service.stddev ** 2, cost)


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
    # The trace (LoadGen's default) holds each query's issue delay and
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


def held_times_ns(queries: list[TracedQuery], threads: int) -> list[float]:
    """For each query, how long it held a worker: from when it could have
    started (scheduled and a worker free, FIFO) to completion. Minus the
    service time, this is LoadGen plus its Python SUT's cost per query, the
    counterpart of infermeter's dispatch latency plus floor."""
    worker_free_ns = [float("-inf")] * threads
    held = []
    for q in queries:
        could_start_ns = max(q.scheduled_ns, heapq.heappop(worker_free_ns))
        held.append(q.done_ns - could_start_ns)
        heapq.heappush(worker_free_ns, q.done_ns)
    return held


def percentile(values: list[float], fraction: float) -> float:
    """LoadGen's own rule: the value at index floor(n * fraction), sorted."""
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def run_loadgen(service_ms: float, rate: float, threads: int, duration_s: float, log_dir: Path) -> tuple[Row, dict]:
    ns = round(service_ms * NS_PER_MS)
    run_loadgen_test(ns, rate, threads, duration_s, log_dir)
    summary, queries = read_summary(log_dir), read_trace(log_dir)
    held_ms = [t / NS_PER_MS for t in held_times_ns(queries, threads)]
    overhead_us = [(t - service_ms) * 1e3 for t in held_ms]
    cost = f"per query p50 {percentile(overhead_us, 0.5):.0f} / p99 {percentile(overhead_us, 0.99):.0f} µs"
    row = Row("LoadGen", service_ms, rate, threads,
              int(summary["Mean latency (ns)"]) / NS_PER_MS,
              int(summary["50.00 percentile latency (ns)"]) / NS_PER_MS,
              int(summary["99.00 percentile latency (ns)"]) / NS_PER_MS,
              float(summary["Completed samples per second"]),
              sum(held_ms) / len(held_ms), sum(t * t for t in held_ms) / len(held_ms), cost)
    split = {"scheduled_rate": float(summary["Scheduled samples per second"]),
             "issue_delay_p50_us": percentile([q.issue_delay_ns for q in queries], 0.5) / 1e3,
             "issue_to_done_p50_us": percentile([q.issue_to_done_ns for q in queries], 0.5) / 1e3}
    return row, split


# ---------------------------------------------------------------- report


def fmt(value: float, digits: int = 3) -> str:
    return "inf" if value == float("inf") else f"{value:.{digits}f}"


def print_table(rows: list[Row]) -> None:
    print("| harness | service ms | rate /s | util | mean ms | p50 ms | p99 ms | achieved /s "
          "| M/D/1 mean ms | M/G/1 mean ms (held) | harness cost |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        # Queueing theory here is single-server; with more workers it is not M/D/1.
        single = r.threads == 1
        md1 = fmt(md1_mean_ms(r.rate, r.service_ms)) if single else "n/a"
        mg1 = fmt(mg1_mean_ms(r.rate, r.held_mean_ms, r.held_mean_square_ms2)) if single else "n/a"
        print(f"| {r.harness} | {r.service_ms:g} | {r.rate:g} | {utilisation(r.rate, r.service_ms, r.threads):.2f} "
              f"| {fmt(r.mean_ms)} | {fmt(r.p50_ms)} | {fmt(r.p99_ms)} | {r.achieved_rate:.1f} "
              f"| {md1} | {mg1} | {r.harness_cost} |")


def print_loadgen_notes(splits: dict[tuple[float, float], dict]) -> None:
    print()
    for (service_ms, rate), s in splits.items():
        print(f"- LoadGen, service {service_ms:g} ms at {rate:g}/s: scheduled {s['scheduled_rate']:.1f}/s; "
              f"p50 issue delay (scheduled -> LoadGen's C++ issue thread calls the SUT) "
              f"{s['issue_delay_p50_us']:.0f} µs, p50 issue -> QuerySamplesComplete {s['issue_to_done_p50_us']:.0f} µs")


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
    with tempfile.TemporaryDirectory(prefix="vs-loadgen-") as tmp:
        log_root = args.log_dir or Path(tmp)
        # Every (service, rate) pair, then the harness-cost pair: 0 ns at a low rate.
        runs = [(args.service_ms, rate, args.duration) for rate in rates] + [(0.0, IDLE_RATE_PER_S, IDLE_DURATION_S)]
        rows, splits = [], {}
        for service_ms, rate, duration_s in runs:
            model = infermeter.save_torchscript(SpinModel(round(service_ms * NS_PER_MS)), torch.zeros(1),
                                                Path(tmp) / f"spin_{service_ms:g}ms.pt", method="script")
            print(f"service {service_ms:g} ms, {rate:g}/s, {duration_s:g} s each ...", file=sys.stderr, flush=True)
            row, splits[(service_ms, rate)] = run_loadgen(service_ms, rate, args.threads, duration_s,
                                                          log_root / f"loadgen_{service_ms:g}ms_{rate:g}")
            rows += [row, run_infermeter(model, service_ms, rate, args.threads, duration_s)]
        print_table(rows)
        print_loadgen_notes(splits)


if __name__ == "__main__":
    main()
