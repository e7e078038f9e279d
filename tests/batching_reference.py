"""Ground truth for dynamic batching that owes nothing to infermeter's code:
response times derived by hand for constant arrivals, and a discrete-event
simulation of Triton's dynamic-batcher rules (docs/dynamic-batching.md)
written here, apart from the product, to replay the arrivals a run traced.
The tests and benchmarks/dynamic_batching_truth.py compare the engine's
measurements with both."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Derived:
    """What a configuration must measure, worked out by hand (ms)."""

    name: str
    options: dict  # benchmark()'s, besides model and duration
    p50_ms: float
    p99_ms: float
    mean_batch: float
    why: str


# The model: a batch of n items takes A_MS + B_MS * n (known_latency.BatchedSpin).
A_MS, B_MS = 1.0, 0.1


def service_ms(n: int) -> float:
    return A_MS + B_MS * n


# One instance, constant arrivals: each settles into a period that repeats
# from the first batch on, so every batch is alike.
DERIVED = (
    Derived("delay rule", dict(rate=1000, max_batch=4, max_queue_delay=0.0025),
            p50_ms=2.8, p99_ms=3.8, mean_batch=3,
            why="arrivals 1 ms apart; the oldest's 2.5 ms delay ends with 3 queued, which go (1.3 ms): "
                "responses 3.8, 2.8, 1.8 ms; the instance is free again before the next oldest's delay ends"),
    Derived("full batch", dict(rate=2000, max_batch=5, max_queue_delay=0.05),
            p50_ms=2.5, p99_ms=3.5, mean_batch=5,
            why="arrivals 0.5 ms apart; the 5th arrives 2 ms after the oldest and the batch goes (1.5 ms): "
                "responses 3.5, 3.0, 2.5, 2.0, 1.5 ms; the instance is free before the next batch fills"),
    Derived("preferred size", dict(rate=1000, max_batch=8, preferred_batches="3", max_queue_delay=0.05),
            p50_ms=2.3, p99_ms=3.3, mean_batch=3,
            why="arrivals 1 ms apart; the 3rd makes a preferred batch, which goes (1.3 ms): "
                "responses 3.3, 2.3, 1.3 ms"),
)


@dataclass
class Simulated:
    response_ms: np.ndarray
    batch_sizes: np.ndarray

    def percentile_ms(self, p: float) -> float:
        return float(np.percentile(self.response_ms, p, method="inverted_cdf"))

    @property
    def mean_batch(self) -> float:
        return float(self.batch_sizes.mean())


def simulate(due_ms: np.ndarray, *, instances: int, max_batch: int, max_queue_delay_ms: float,
             preferred: tuple[int, ...] = ()) -> Simulated:
    """Requests of one item arriving at `due_ms` (ascending), served by
    `instances` model instances under the batcher's rules, each batch of n
    taking service_ms(n). A free instance takes the batcher once the one
    before it has dispatched; it dispatches at the first moment a full batch
    or a preferred size is queued, or the oldest has waited the delay."""
    n = len(due_ms)
    free_at = [0.0] * instances
    response = np.empty(n)
    sizes = []
    oldest, last_dispatch = 0, 0.0
    while oldest < n:
        k = int(np.argmin(free_at))
        t = max(free_at[k], last_dispatch, due_ms[oldest])
        deadline = due_ms[oldest] + max_queue_delay_ms
        last = min(oldest + max_batch, n)  # requests oldest..last-1 may join this batch
        while True:
            queued = int(np.searchsorted(due_ms[oldest:last], t, side="right"))
            fits = [p for p in preferred if p <= queued]
            if queued == max_batch:
                take = queued
            elif fits:
                take = max(fits)
            elif t >= deadline:
                take = queued
            else:
                t = min(deadline, due_ms[oldest + queued]) if oldest + queued < last else deadline
                continue
            break
        done = t + service_ms(take)
        response[oldest:oldest + take] = done - due_ms[oldest:oldest + take]
        sizes.append(take)
        free_at[k] = done
        last_dispatch = t
        oldest += take
    return Simulated(response, np.array(sizes))


def traced_due_ms(trace_path) -> np.ndarray:
    """The due times (ms from the measurement start) of a run's trace."""
    import json

    with open(trace_path) as f:
        return np.array(sorted(json.loads(line)["due_ns"] / 1e6 for line in f))
