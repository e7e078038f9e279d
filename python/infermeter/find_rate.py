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
from infermeter.options import STEP_OPTIONS
from infermeter.result import Interrupted, Result
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

    @property
    def latency_label(self) -> str:
        return "-" if math.isnan(self.latency_ms) else f"{self.latency_ms:.3f} ms"

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
    interrupted: bool = False  # Ctrl-C stopped it: `steps` are those it finished, `best` a lower bound

    @property
    def best(self) -> RateStep | None:
        """The highest offered rate that met the SLA; None when none did."""
        passing = [s for s in self.steps if s.meets]
        return max(passing, key=lambda s: s.offered_rate_per_s) if passing else None

    def to_dict(self) -> dict:
        best = self.best
        return {"sla": str(self.sla), "capacity_per_s": self.capacity_per_s, "batch_size": self.batch_size,
                "steps": [s.to_dict() for s in self.steps], "interrupted": self.interrupted,
                "best_rate_per_s": best.offered_rate_per_s if best else None,
                "best_inferences_per_s": best.offered_rate_per_s * self.batch_size if best else None}

    def __str__(self) -> str:
        p = f"p{self.sla.percentile:g}"
        lines = [f"closed-loop capacity {self.capacity_per_s:.1f} requests/s; searching the highest rate with "
                 f"response {p} within {self.sla}",
                 f"{'offered /s':>12} {'achieved /s':>12} {'response ' + p:>14}  sustained  meets"]
        for s in sorted(self.steps, key=lambda s: s.offered_rate_per_s):
            lines.append(f"{s.offered_rate_per_s:12.1f} {s.achieved_rate_per_s:12.1f} {s.latency_label:>14}  "
                         f"{'yes' if s.sustained else 'NO':>9}  {'yes' if s.meets else 'no'}")
        lines.append(self._answer())
        return "\n".join(lines)

    def _answer(self) -> str:
        best = self.best
        so_far = f" so far (interrupted after {len(self.steps)} step(s))" if self.interrupted else ""
        if best:
            return (f"highest rate meeting {self.sla}{so_far}: {best.offered_rate_per_s:.1f} requests/s "
                    f"({best.offered_rate_per_s * self.batch_size:.1f} inferences/s, "
                    f"{best.offered_rate_per_s / self.capacity_per_s:.0%} of closed-loop capacity)")
        if self.interrupted:
            return f"no rate met {self.sla}{so_far}"
        return f"no rate met {self.sla}, down to {LOWEST_SHARE:.1%} of capacity"


class SearchInterrupted(Interrupted):
    """Ctrl-C during a rate search's steps: `search` holds the steps finished
    before it (marked interrupted), `result` the run it cut short. That run
    is no step: a run stopped early judges the SLA on fewer samples than
    the step planned."""

    def __init__(self, search: RateSearch, result: Result):
        super().__init__(result)
        self.search = search


def _check_judgeable(sla: Sla, capacity_per_s: float, max_step_s: float) -> None:
    """Refuses an SLA whose percentile no step could state. Until a step
    passes, every step offers at most FIRST_GUESS of the closed-loop
    capacity, for at most max_step_s, so its sample count is bounded before
    any step runs."""
    most = FIRST_GUESS * capacity_per_s * max_step_s
    if most < sla.min_samples:
        raise ValueError(
            f"{sla} cannot be judged here: p{sla.percentile:g} needs at least {sla.min_samples} samples, and a step "
            f"collects about {most:.0f} at most ({FIRST_GUESS:.0%} of the closed-loop capacity, "
            f"{capacity_per_s:.1f} requests/s, for max_step_s={max_step_s:g} s); use a lower percentile or a longer "
            "max_step_s")


def find_rate(model, *, sla: Sla | str, precision: float = 0.02, max_steps: int = 12, min_step_s: float = 2.0,
              max_step_s: float = 60.0, on_step: Callable[[RateStep], None] | None = None,
              **options) -> RateSearch:
    """Searches the highest rate (requests/s) at which `model`, served by
    its `threads` clients, keeps the SLA's response-time percentile within
    its limit and sustains the load. `options` are benchmark()'s (threads,
    batch_size, device, runner, arrival, warmup, seed, backend, ...), given to
    every step. The search stops once the passing and failing rates are within
    `precision` of each other, or after `max_steps` open-loop runs. `on_step`
    sees each step as it finishes.

    A ValueError, after the closed-loop probe, when no step could collect
    the samples the SLA's percentile needs. Ctrl-C during the steps raises
    SearchInterrupted (an infermeter.Interrupted) carrying the steps
    finished so far."""
    sla = parse_sla(sla) if isinstance(sla, str) else sla
    if not 0 < precision < 1:
        raise ValueError(f"precision must be between 0 and 1, got {precision}")
    chosen = [name for name in STEP_OPTIONS if name in options]
    if chosen:
        raise ValueError(f"find_rate chooses each step's load, rate and duration itself: leave out {', '.join(chosen)}")
    closed = benchmark(model, load="closed", duration=min_step_s, **options)
    if closed.requests == 0:
        raise ValueError(f"the closed-loop probe measured no request in {min_step_s} s: the model is too slow for a "
                         "rate search; raise min_step_s")
    _check_judgeable(sla, closed.requests_per_s, max_step_s)
    search = RateSearch(sla, closed.requests_per_s, closed.config["batch_size"], [])
    needed = math.ceil(TAIL_SAMPLES / (1 - sla.percentile / 100))

    def run(rate: float) -> RateStep:
        duration = min(max_step_s, max(min_step_s, needed / rate))
        r = benchmark(model, load="open", duration=duration, rate=rate, **options)
        load = r.load_info
        latency = sla.latency_ms(r) if r.outcome == "ok" else math.nan
        step = RateStep(rate, load["achieved_rate_per_s"], latency, bool(load["sustained"]),
                        bool(load["sustained"]) and r.outcome == "ok" and sla.met_by(r), duration, r)
        search.steps.append(step)
        if on_step:
            on_step(step)
        return step

    try:
        _bracket_and_bisect(run, search, precision, max_steps)
    except Interrupted as stopped:
        search.interrupted = True
        raise SearchInterrupted(search, stopped.result) from None
    return search


def _bracket_and_bisect(run: Callable[[float], RateStep], search: RateSearch, precision: float,
                        max_steps: int) -> None:
    """Runs the steps into `search`. Bracket: the first guess, halved until it
    passes; the top is the closed loop's capacity, which an open loop with
    the same clients cannot exceed. Then bisect."""
    capacity = search.capacity_per_s
    low, high = 0.0, capacity
    rate = FIRST_GUESS * capacity
    while len(search.steps) < max_steps:
        if run(rate).meets:
            low = rate
            break
        high = rate
        rate /= 2
        if rate < LOWEST_SHARE * capacity:
            return
    while len(search.steps) < max_steps and (high - low) > precision * high:
        rate = (low + high) / 2
        if run(rate).meets:
            low = rate
        else:
            high = rate
