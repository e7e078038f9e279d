"""The highest open-loop arrival rate a configuration sustains within a
latency SLA, as MLPerf LoadGen's peak-performance search finds it: bracket
the answer, then bisect. Every step is an ordinary open-loop run, long
enough for its response-time percentile to be stated; a step passes when
that percentile meets the SLA and the workers served (nearly) every request
that arrived (`sustained`: at least 99%)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from infermeter.bench import benchmark
from infermeter.result import Result
from infermeter.sla import Sla, parse_sla

# Samples each step collects for its percentile: 20 beyond it (2000 for p99).
TAIL_SAMPLES = 20
FIRST_GUESS = 0.5  # of the closed-loop capacity
LOWEST_SHARE = 1 / 64  # below this share of capacity the SLA is declared out of reach


@dataclass
class RateStep:
    offered_rate_per_s: float
    achieved_rate_per_s: float
    latency_ms: float  # the SLA's percentile of response time; NaN when not stated
    sustained: bool
    meets: bool
    duration_s: float
    result: Result = field(repr=False)

    def to_dict(self) -> dict:
        return {"offered_rate_per_s": self.offered_rate_per_s, "achieved_rate_per_s": self.achieved_rate_per_s,
                "latency_ms": None if math.isnan(self.latency_ms) else self.latency_ms, "sustained": self.sustained,
                "meets": self.meets, "duration_s": self.duration_s}


@dataclass
class RateSearch:
    sla: Sla
    capacity_per_s: float  # requests/s of a closed loop with the same threads: the bracket's top
    batch_size: int
    steps: list[RateStep]

    @property
    def best(self) -> RateStep | None:
        """The highest offered rate that met the SLA; None when none did."""
        passing = [s for s in self.steps if s.meets]
        return max(passing, key=lambda s: s.offered_rate_per_s) if passing else None

    def to_dict(self) -> dict:
        best = self.best
        return {"sla": str(self.sla), "capacity_per_s": self.capacity_per_s, "batch_size": self.batch_size,
                "steps": [s.to_dict() for s in self.steps],
                "best_rate_per_s": best.offered_rate_per_s if best else None,
                "best_inferences_per_s": best.offered_rate_per_s * self.batch_size if best else None}

    def __str__(self) -> str:
        p = f"p{self.sla.percentile:g}"
        lines = [f"closed-loop capacity {self.capacity_per_s:.1f} requests/s; searching the highest rate with "
                 f"response {p} within {self.sla}",
                 f"{'offered /s':>12} {'achieved /s':>12} {'response ' + p:>14}  sustained  meets"]
        for s in sorted(self.steps, key=lambda s: s.offered_rate_per_s):
            shown = "-" if math.isnan(s.latency_ms) else f"{s.latency_ms:.3f} ms"
            lines.append(f"{s.offered_rate_per_s:12.1f} {s.achieved_rate_per_s:12.1f} {shown:>14}  "
                         f"{'yes' if s.sustained else 'NO':>9}  {'yes' if s.meets else 'no'}")
        best = self.best
        lines.append(f"highest rate meeting {self.sla}: {best.offered_rate_per_s:.1f} requests/s "
                     f"({best.offered_rate_per_s * self.batch_size:.1f} inferences/s, "
                     f"{best.offered_rate_per_s / self.capacity_per_s:.0%} of closed-loop capacity)"
                     if best else f"no rate met {self.sla}, down to {LOWEST_SHARE:.1%} of capacity")
        return "\n".join(lines)


def find_rate(model, *, sla: Sla | str, threads: int = 1, arrival: str = "poisson", precision: float = 0.02,
              max_steps: int = 12, min_step_s: float = 2.0, max_step_s: float = 60.0, warmup: float = 1.0,
              seed: int = 0, on_step: Callable[[RateStep], None] | None = None, **options) -> RateSearch:
    """Searches the highest rate (requests/s) at which `model`, served by
    `threads` clients, keeps the SLA's response-time percentile within its
    limit and sustains the load. `options` go to every `benchmark` call
    (batch_size, device, runner, ...). The search stops once the passing and
    failing rates are within `precision` of each other, or after `max_steps`
    open-loop runs. `on_step` sees each step as it finishes."""
    sla = parse_sla(sla) if isinstance(sla, str) else sla
    if not 0 < precision < 1:
        raise ValueError(f"precision must be between 0 and 1, got {precision}")
    if "rate" in options or "duration" in options or "ci" in options:
        raise ValueError("find_rate chooses each step's rate and duration itself")
    closed = benchmark(model, threads=threads, warmup=warmup, duration=min_step_s, seed=seed, **options)
    if closed.requests == 0:
        raise ValueError(f"the closed-loop probe measured no request in {min_step_s} s: the model is too slow for a "
                         "rate search; raise min_step_s")
    capacity = closed.requests_per_s
    needed = math.ceil(TAIL_SAMPLES / (1 - sla.percentile / 100))
    steps: list[RateStep] = []

    def run(rate: float) -> RateStep:
        duration = min(max_step_s, max(min_step_s, needed / rate))
        r = benchmark(model, threads=threads, warmup=warmup, duration=duration, rate=rate, arrival=arrival, seed=seed,
                      **options)
        load = r.load_info
        latency = sla.latency_ms(r) if r.outcome == "ok" else math.nan
        step = RateStep(rate, load["achieved_rate_per_s"], latency, bool(load["sustained"]),
                        bool(load["sustained"]) and r.outcome == "ok" and sla.met_by(r), duration, r)
        steps.append(step)
        if on_step:
            on_step(step)
        return step

    # Bracket: the first guess, halved until it passes; the top is the closed
    # loop's capacity, which an open loop with the same clients cannot exceed.
    low, high = 0.0, capacity
    rate = FIRST_GUESS * capacity
    while len(steps) < max_steps:
        if run(rate).meets:
            low = rate
            break
        high = rate
        rate /= 2
        if rate < LOWEST_SHARE * capacity:
            return RateSearch(sla, capacity, closed.config["batch_size"], steps)
    while len(steps) < max_steps and (high - low) > precision * high:
        rate = (low + high) / 2
        if run(rate).meets:
            low = rate
        else:
            high = rate
    return RateSearch(sla, capacity, closed.config["batch_size"], steps)
