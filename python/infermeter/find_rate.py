"""The highest arrival rate a configuration sustains within a latency SLA,
as MLPerf LoadGen's peak-performance search finds it: bracket the answer,
then bisect. The requests arrive in an open loop, straight to the threads
(load "open") or through a dynamic batcher (load "dynamic-batching"). Every
step is an ordinary run of that load, long enough for its response-time
percentile to be stated; a step passes when that percentile meets the SLA
and the workers served (nearly) every request that arrived (`sustained`:
at least 99%)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Callable

from infermeter.bench import benchmark
from infermeter.options import ARRIVAL_LOADS, BATCHER_OPTIONS, BY_NAME, DYNAMIC_BATCHING, STEP_OPTIONS, normalise
from infermeter.result import Interrupted, Result
from infermeter.sla import Sla, parse_sla

# Samples each step collects for its percentile: 20 beyond it (2000 for p99).
TAIL_SAMPLES = 20
FIRST_GUESS = 0.5  # of the capacity
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
    # Requests/s of a closed loop with the same threads, the bracket's top;
    # for dynamic batching a closed loop at full batches (max_batch items).
    capacity_per_s: float
    batch_size: int  # items per request
    steps: list[RateStep]
    interrupted: bool = False  # Ctrl-C stopped it: `steps` are those it finished, `best` a lower bound
    load: str = "open"  # where the requests arrive: "open" (the threads) or "dynamic-batching" (a batcher)
    max_batch: int | None = None  # dynamic batching: the batch its capacity was probed at

    @property
    def capacity_name(self) -> str:
        """What the capacity is, as the texts name it."""
        if self.load == DYNAMIC_BATCHING:
            return f"full-batch capacity (a closed loop at batch {self.max_batch})"
        return "closed-loop capacity"

    @property
    def best(self) -> RateStep | None:
        """The highest offered rate that met the SLA; None when none did."""
        passing = [s for s in self.steps if s.meets]
        return max(passing, key=lambda s: s.offered_rate_per_s) if passing else None

    @property
    def failing_above(self) -> float | None:
        """The lowest rate above the answer that failed, else the capacity
        (no rate with these threads exceeds it): the answer lies between the
        two. None without an answer."""
        best = self.best
        if best is None:
            return None
        above = [s.offered_rate_per_s for s in self.steps
                 if not s.meets and s.offered_rate_per_s > best.offered_rate_per_s]
        return min(above, default=self.capacity_per_s)

    @property
    def precision_rel(self) -> float | None:
        """How far the search pinned its answer: (failing above - answer) / failing above."""
        above = self.failing_above
        return None if above is None else (above - self.best.offered_rate_per_s) / above

    def to_dict(self) -> dict:
        best = self.best
        return {"sla": str(self.sla), "load": self.load, "max_batch": self.max_batch,
                "capacity_per_s": self.capacity_per_s, "batch_size": self.batch_size,
                "steps": [s.to_dict() for s in self.steps], "interrupted": self.interrupted,
                "best_rate_per_s": best.offered_rate_per_s if best else None,
                "best_inferences_per_s": best.offered_rate_per_s * self.batch_size if best else None,
                "failing_above_per_s": self.failing_above, "precision_rel": self.precision_rel}

    def __str__(self) -> str:
        p = f"p{self.sla.percentile:g}"
        lines = [f"load {self.load}: {self.capacity_name} {self.capacity_per_s:.1f} requests/s; searching the "
                 f"highest arrival rate with response {p} within {self.sla}",
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
                    f"{best.offered_rate_per_s / self.capacity_per_s:.0%} of the {self.capacity_name}), pinned to "
                    f"{self.precision_rel:.1%}: the next rate up, {self.failing_above:.1f}/s, failed or is the "
                    "capacity")
        if self.interrupted:
            return f"no rate met {self.sla}{so_far}"
        return f"no rate met {self.sla}, down to {LOWEST_SHARE:.1%} of capacity"


class SearchInterrupted(Interrupted):
    """Ctrl-C during a rate search's steps: `search` holds the steps finished
    before it (marked interrupted), `result` the run it cut short. That run
    is no step: a run stopped early judges the SLA on fewer samples than
    the step planned. From find_rate_repeated, `search` is the
    RepeatedSearch of the searches finished so far (and the one cut short)."""

    def __init__(self, search: RateSearch, result: Result):
        super().__init__(result)
        self.search = search


def _check_judgeable(search: RateSearch, max_step_s: float) -> None:
    """Refuses an SLA whose percentile no step could state. Until a step
    passes, every step offers at most FIRST_GUESS of the capacity, for at
    most max_step_s, so its sample count is bounded before any step runs."""
    sla = search.sla
    most = FIRST_GUESS * search.capacity_per_s * max_step_s
    if most < sla.min_samples:
        raise ValueError(
            f"{sla} cannot be judged here: p{sla.percentile:g} needs at least {sla.min_samples} samples, and a step "
            f"collects about {most:.0f} at most ({FIRST_GUESS:.0%} of the {search.capacity_name}, "
            f"{search.capacity_per_s:.1f} requests/s, for max_step_s={max_step_s:g} s); use a lower percentile or a "
            "longer max_step_s")


def _probe(model, sla: Sla, load: str, min_step_s: float, options: dict) -> RateSearch:
    """The search, without steps, bounded by a closed loop with the same
    threads. For an open loop, at the search's own batch: no arrival rate
    gets more requests/s out of its threads. For dynamic batching, at
    max_batch items: a batch holds at most that many, and a closed loop keeps
    every batch full, so its inferences/s over the items of one request are
    the requests/s no arrival rate can exceed."""
    if load != DYNAMIC_BATCHING:
        closed = benchmark(model, load="closed", duration=min_step_s, **options)
        _check_probed(closed, "", min_step_s)
        return RateSearch(sla, closed.requests_per_s, closed.config["batch_size"], [], load=load)
    # Checked as every step will run, so that a batcher the engine refuses
    # (a request larger than max_batch) is named before the probe runs.
    step = normalise({k: v for k, v in options.items() if k in BY_NAME} | {"load": load, "rate": 1.0})
    request_items = step["batch_size"] or 1  # the engine's: a request holds one item unless batch_size says
    full = {k: v for k, v in options.items() if k not in BATCHER_OPTIONS} | {"batch_size": step["max_batch"]}
    closed = benchmark(model, load="closed", duration=min_step_s, **full)
    _check_probed(closed, f" at batch {step['max_batch']}", min_step_s)
    return RateSearch(sla, closed.inferences_per_s / request_items, request_items, [], load=load,
                      max_batch=step["max_batch"])


def _check_probed(closed: Result, at: str, min_step_s: float) -> None:
    if closed.requests == 0:
        raise ValueError(f"the closed-loop probe{at} measured no request in {min_step_s} s: the model is too slow "
                         "for a rate search; raise min_step_s")


def find_rate(model, *, sla: Sla | str, load: str = "open", precision: float = 0.02, max_steps: int = 12,
              min_step_s: float = 2.0, max_step_s: float = 60.0, on_step: Callable[[RateStep], None] | None = None,
              **options) -> RateSearch:
    """Searches the highest rate (requests/s) at which `model`, served by
    its `threads` (the model instances, with dynamic batching), keeps the
    SLA's response-time percentile within its limit and sustains the load.
    `load`: "open" (requests go straight to the threads) or
    "dynamic-batching" (a batcher forms them into batches of up to
    `max_batch` items). `options` are benchmark()'s (threads, batch_size,
    device, runner, arrival, warmup, seed, max_batch, max_queue_delay,
    backend, ...), given to every step. The search stops once the passing and
    failing rates are within `precision` of each other, or after `max_steps`
    runs. `on_step` sees each step as it finishes.

    A ValueError, after the closed-loop probe, when no step could collect
    the samples the SLA's percentile needs. Ctrl-C during the steps raises
    SearchInterrupted (an infermeter.Interrupted) carrying the steps
    finished so far."""
    sla = parse_sla(sla) if isinstance(sla, str) else sla
    if load not in ARRIVAL_LOADS:
        raise ValueError(f"find_rate searches an arrival rate: load must be {' or '.join(ARRIVAL_LOADS)}, got "
                         f"{load!r} (a closed loop has no rate to search)")
    if not 0 < precision < 1:
        raise ValueError(f"precision must be between 0 and 1, got {precision}")
    chosen = [name for name in STEP_OPTIONS if name in options]
    if chosen:
        raise ValueError(f"find_rate chooses each step's rate and duration itself: leave out {', '.join(chosen)}")
    search = _probe(model, sla, load, min_step_s, options)
    _check_judgeable(search, max_step_s)
    needed = math.ceil(TAIL_SAMPLES / (1 - sla.percentile / 100))

    def run(rate: float) -> RateStep:
        duration = min(max_step_s, max(min_step_s, needed / rate))
        r = benchmark(model, load=load, duration=duration, rate=rate, **options)
        facts = r.load_info
        latency = sla.latency_ms(r) if r.outcome == "ok" else math.nan
        step = RateStep(rate, facts["achieved_rate_per_s"], latency, bool(facts["sustained"]),
                        bool(facts["sustained"]) and r.outcome == "ok" and sla.met_by(r), duration, r)
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
    passes; the top is the probe's capacity, which no arrival rate with the
    same threads can exceed. Then bisect."""
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


def _spread(answers: list[float], isolation: str) -> dict:
    """min, max, mean and CV of a repeated search's answers (requests/s; none
    when it cannot be said), and how the searches were kept apart."""
    mean = statistics.fmean(answers) if answers else None
    cv = statistics.stdev(answers) / mean if len(answers) > 1 and mean else None
    return {"searches": len(answers), "min_per_s": min(answers, default=None),
            "max_per_s": max(answers, default=None), "mean_per_s": mean, "cv": cv, "isolation": isolation}


def _doc_answer(doc: dict) -> float:
    return doc["best_rate_per_s"] or 0.0


def median_search_index(docs: list[dict]) -> int:
    """Which of several searches' documents (RateSearch.to_dict) is the one
    of median answer among those that finished (the lower middle for an even
    count; of them all when none finished)."""
    finished = [i for i, d in enumerate(docs) if not d["interrupted"]] or list(range(len(docs)))
    return sorted(finished, key=lambda i: _doc_answer(docs[i]))[(len(finished) - 1) // 2]


def repeated_search_doc(docs: list[dict], isolation: str) -> dict:
    """Searches of one configuration made apart (RateSearch.to_dict each) as
    one document: the median search's, with the spread of every finished
    search's answer under "repeated" and each search under "searches"."""
    answers = [_doc_answer(d) for d in docs if not d["interrupted"]]
    return docs[median_search_index(docs)] | {"repeated": _spread(answers, isolation), "searches": docs}


@dataclass
class RepeatedSearch:
    """The same search made several times: its answer's run-to-run spread,
    which one search's precision does not show (docs/intervals.md)."""

    searches: list[RateSearch]
    cut_short: bool = False  # Ctrl-C stopped it: fewer searches than asked for

    ISOLATION = "one process, back to back"

    @property
    def answers(self) -> list[float]:
        """Each finished search's answer, requests/s (a search with none counts as 0)."""
        return [s.best.offered_rate_per_s if s.best else 0.0 for s in self.searches if not s.interrupted]

    @property
    def median(self) -> RateSearch:
        """The search of median answer (the lower middle for an even count)."""
        return self.searches[median_search_index([s.to_dict() for s in self.searches])]

    @property
    def best(self) -> RateStep | None:
        return self.median.best

    @property
    def interrupted(self) -> bool:
        return self.cut_short or any(s.interrupted for s in self.searches)

    def spread(self) -> dict:
        return _spread(self.answers, self.ISOLATION)

    def to_dict(self) -> dict:
        return repeated_search_doc([s.to_dict() for s in self.searches], self.ISOLATION)

    def __str__(self) -> str:
        lines = [str(self.median), ""]
        spread = self.spread()
        batch = self.median.batch_size
        listed = ", ".join(f"{a:.1f}" for a in self.answers)
        if not any(self.answers):
            return "\n".join([str(self.median), "", f"no search found a rate meeting {self.median.sla}"])
        lines.append(f"{spread['searches']} searches (one process), answers {listed} requests/s: median "
                     f"{self.median.best.offered_rate_per_s if self.median.best else 0:.1f} ({batch} item(s) a "
                     f"request), range {spread['min_per_s']:.1f} to {spread['max_per_s']:.1f}, CV "
                     f"{spread['cv']:.1%}" if spread["searches"] > 1 else "one search finished: no spread")
        if self.interrupted:
            lines.append("interrupted: the spread is of the searches that finished")
        return "\n".join(lines)


def find_rate_repeated(model, *, searches: int, on_search: Callable[[int], None] | None = None,
                       **kwargs) -> RepeatedSearch:
    """`find_rate(model, **kwargs)` made `searches` times, one after the
    other in this process. Ctrl-C raises SearchInterrupted whose `search` is
    the RepeatedSearch of those finished and the one it cut short."""
    if searches < 2:
        raise ValueError(f"a repeated search needs at least 2 searches, got {searches}")
    done = RepeatedSearch([])
    for i in range(searches):
        if on_search:
            on_search(i)
        try:
            done.searches.append(find_rate(model, **kwargs))
        except SearchInterrupted as stopped:
            done.searches.append(stopped.search)
            done.cut_short = True
            raise SearchInterrupted(done, stopped.result) from None
        except Interrupted as stopped:  # in a later search's closed-loop probe, before any step
            if not done.searches:
                raise
            done.cut_short = True
            raise SearchInterrupted(done, stopped.result) from None
    return done
