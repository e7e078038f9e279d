"""Predicts what a dynamic batcher does, without hardware: a discrete-event
simulation of the engine's dynamic-batching load (Triton's rules, see
csrc/dynamic_batching.h) at any arrival rate, max_batch, max_queue_delay and
instance count, driven by service times measured in closed-loop runs.

A closed-loop run at batch b with N threads measures how long one batch of b
takes while N run side by side: the service time an instance sees when N
instances serve a batcher. `ServiceTimes` holds those distributions by batch
size; `simulate` plays an arrival schedule through the batcher's rules;
`highest_rate` searches the highest rate that meets a latency SLA."""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Iterable

import numpy as np

from infermeter import _native
from infermeter.options import normalise
from infermeter.service_times import ServiceTimes, _whole, service_times_from_results  # noqa: F401 (also public here)
from infermeter.sla import Sla, parse_sla

# A batch's service time is drawn at one of this many evenly spaced quantile
# levels (the midpoints of 1/LEVELS-wide strata), looked up in a table per
# computed size: the loop then costs a list index per batch, not a numpy call.
QUANTILE_LEVELS = 1 << 14
# The default schedule: 60 s of arrivals, at least 20000 (percentiles up to
# p99.9 stay stable) and at most 200000 (a simulation stays under a second).
DEFAULT_SPAN_S, DEFAULT_MIN_REQUESTS, DEFAULT_MAX_REQUESTS = 60.0, 20_000, 200_000
MAX_REQUESTS = 2_000_000  # what --requests may ask for: 3 million took 108 s and 1.4 GB on the 2-core VM
# The engine's rule (open_loop.h, kSustainedShare): a load was sustained when
# at least this share of the requests that arrived was served.
SUSTAINED_SHARE = 0.99
# Runners that compute a batch at a captured size, padding it.
GRAPH_RUNNERS = ("cuda-graph", "aoti-graph")
# highest_rate's bracket: rates step down by this factor from the capacity
# bound until one meets the SLA, and the search gives up below LOWEST_SHARE of it.
BRACKET_STEP, LOWEST_SHARE = 0.8, 1 / 1024


@dataclass
class Prediction:
    """What the batcher does under one configuration. Latencies in ms are of
    the requests served (dispatched before the schedule ended), as the engine
    reports them: response = completion - arrival, queue wait = dispatch -
    arrival; percentiles are nearest-rank. `padding_fraction`: the share of
    computed items that padded a batch to a captured size."""

    rate_per_s: float
    max_batch: int
    max_queue_delay: float
    instances: int
    preferred_batches: tuple
    batch_size: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    queue_wait_p50_ms: float
    queue_wait_p99_ms: float
    mean_batch_items: float
    padding_fraction: float
    batch_size_counts: dict[int, int]
    achieved_rate_per_s: float
    sustained: bool
    requests: int  # arrivals simulated
    served_fraction: float  # of them, dispatched before the schedule ended
    notes: list[str]
    response_ms: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)  # sorted

    def response_percentile_ms(self, percentile: float) -> float:
        """Nearest-rank percentile of response time; NaN with nothing served."""
        if self.response_ms.size == 0:
            return math.nan
        return float(np.percentile(self.response_ms, percentile, method="inverted_cdf"))

    def to_dict(self) -> dict:
        """The figures, for JSON (without the responses themselves)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "response_ms"}


def sla_latency_ms(sla: Sla, prediction: Prediction) -> float:
    """The SLA's percentile of response time; NaN when too few requests were
    served to state it (the same floor as a measured run's)."""
    if prediction.response_ms.size < sla.min_samples:
        return math.nan
    return prediction.response_percentile_ms(sla.percentile)


def meets_sla(sla: Sla, prediction: Prediction) -> bool:
    """Sustained, and the SLA's percentile stated and within its limit."""
    value = sla_latency_ms(sla, prediction)
    return prediction.sustained and (value <= sla.limit_ms if sla.inclusive else value < sla.limit_ms)


@dataclass(frozen=True)
class _Config:
    """A simulation's settings, checked."""

    rate: float
    max_batch: int
    max_queue_delay: float
    instances: int
    preferred_batches: tuple[int, ...]
    capture_batches: tuple[int, ...] | None
    batch_size: int
    arrival: str
    seed: int
    requests: int | None
    allow_other_instances: bool

    @classmethod
    def checked(cls, service: ServiceTimes, *, rate, max_batch, max_queue_delay, instances=None, preferred_batches=(),
                capture_batches=None, batch_size=1, arrival="poisson", seed=0, requests=None,
                allow_other_instances=False) -> _Config:
        if not isinstance(service, ServiceTimes):
            raise ValueError(f"service must be a ServiceTimes, got {type(service).__name__}")
        instances = service.instances if instances is None else _whole("instances", instances)
        if instances != service.instances and not allow_other_instances:
            raise ValueError(f"instances={instances}, but the service times were measured with {service.instances} "
                             "running side by side (threads): each instance's service time depends on how many "
                             "share the device; measure with that many threads, or allow other instances "
                             "(allow_other_instances=True, --allow-other-instances)")
        # The engine's own checks of a dynamic-batching run with these settings, and its errors.
        given = {"load": "dynamic-batching", "rate": rate, "max_batch": max_batch,
                 "max_queue_delay": max_queue_delay, "batch_size": batch_size, "threads": instances,
                 "arrival": arrival, "seed": seed,
                 "preferred_batches": ",".join(map(str, _sizes("preferred_batches", preferred_batches)))}
        if capture_batches is not None:
            given["capture_batches"] = ",".join(map(str, _sizes("capture_batches", capture_batches)))
        options = normalise(given)
        if capture_batches is not None or service.source.get("runner") in GRAPH_RUNNERS:
            # A graph runner pads to what it captured: the sizes given, or the engine's default for max_batch.
            capture_batches = tuple(_native.capture_sizes(given))
        rate, max_batch, delay = options["rate"], options["max_batch"], options["max_queue_delay"]
        batch_size, arrival, seed = options["batch_size"], options["arrival"], options["seed"]
        preferred_batches = tuple(int(p) for p in options["preferred_batches"].split(",") if p)
        requests = None if requests is None else _whole("requests", requests)
        if requests is not None and not 1 <= requests <= MAX_REQUESTS:
            raise ValueError(f"requests must be from 1 to {MAX_REQUESTS:,} (each simulated request is kept in "
                             f"memory: 3 million took 108 s and 1.4 GB here), got {requests}")
        config = cls(rate, max_batch, delay, instances, preferred_batches, capture_batches, batch_size, arrival, seed,
                     requests, bool(allow_other_instances))
        service.check_covers(config.computed_size(config.most_requests * batch_size))
        return config

    @property
    def most_requests(self) -> int:
        return self.max_batch // self.batch_size

    @property
    def schedule_length(self) -> int:
        if self.requests is not None:
            return self.requests
        return max(DEFAULT_MIN_REQUESTS, min(DEFAULT_MAX_REQUESTS, math.ceil(DEFAULT_SPAN_S * self.rate)))

    def computed_size(self, items: int) -> int:
        """The size a batch of `items` runs at: the smallest captured size
        that holds it, or its own."""
        if self.capture_batches is None:
            return items
        return self.capture_batches[bisect.bisect_left(self.capture_batches, items)]


def simulate(service: ServiceTimes, *, rate: float, max_batch: int, max_queue_delay: float,
             instances: int | None = None, preferred_batches=(), capture_batches=None, batch_size: int = 1,
             arrival: str = "poisson", seed: int = 0, requests: int | None = None,
             allow_other_instances: bool = False) -> Prediction:
    """Plays `requests` arrivals (default: 60 s of them, at least 20000 and
    at most 200000) at `rate` requests/s through the batcher and `instances`
    model instances (default: as many as measured), and states what the
    requests saw. Preferred and captured sizes are in items; each request
    holds `batch_size` items. Arrivals: the engine's own schedule for
    `arrival` and `seed` (constant spacing from t=0, or Poisson). Service
    times measured with a graph runner are padded to `capture_batches`, by
    default the engine's (powers of two below max_batch, and max_batch)."""
    config = _Config.checked(service, rate=rate, max_batch=max_batch, max_queue_delay=max_queue_delay,
                             instances=instances, preferred_batches=preferred_batches, capture_batches=capture_batches,
                             batch_size=batch_size, arrival=arrival, seed=seed, requests=requests,
                             allow_other_instances=allow_other_instances)
    return _simulate(service, config)


def _arrivals(config: _Config) -> tuple[np.ndarray, float]:
    """The schedule's arrival times (s), and when the schedule ends: where
    the next arrival would be, as a run's horizon ends after its last arrival."""
    n = config.schedule_length
    # The engine's own schedule for this arrival process, rate and seed: a
    # prediction and a run with the same seed see the same arrivals.
    times = np.asarray(_native.arrival_offsets(config.arrival, config.rate, n + 1, config.seed)) / 1e9
    return times[:n], float(times[n])


def _dispatch(arrivals: list[float], stop: float, config: _Config, service_of: Callable[[int], list[float]],
              levels: list[int]) -> tuple[list[float], list[float], list[int]]:
    """The batcher's event loop, one step per batch: the instance free
    first takes the batcher (once the previous holder let it go), waits
    until a rule lets a batch go, dispatches the oldest requests, and is
    free again when the batch is computed. Returns each batch's dispatch
    and completion time and its requests; stops at the first batch that
    would go after `stop` (the requests still queued then were not served).
    The queue is the index range [head, arrived) of `arrivals`."""
    n, most, delay = len(arrivals), config.most_requests, config.max_queue_delay
    preferred_batches = [p // config.batch_size for p in config.preferred_batches]
    # Requests a queue of q lets go by a preferred size (0: none), and the
    # queue length at which a full or preferred batch goes.
    by_preferred = [max([p for p in preferred_batches if p <= q], default=0) for q in range(most + 1)]
    trigger = min([most, *preferred_batches])
    tables: list[list[float] | None] = [None] * (most + 1)  # service times at the levels, by requests taken
    free = [(0.0, instance) for instance in range(config.instances)]  # a heap: first free, first served
    released = 0.0  # when the last holder let the batcher go
    head = 0
    dispatched, completed, taken = [], [], []
    while head < n:
        free_at, instance = heapq.heappop(free)
        filled = arrivals[head + trigger - 1] if head + trigger - 1 < n else math.inf
        # The first moment a rule holds: the queue reaches a full or preferred
        # batch, or the oldest request's delay runs out; never before the
        # instance is free and holds the batcher. An empty queue waits for the
        # next arrival (the oldest's deadline is after it).
        now = max(free_at, released, min(filled, arrivals[head] + delay))
        if now > stop:
            break
        queued = bisect.bisect_right(arrivals, now, head, min(n, head + most)) - head
        take = most if queued == most else (by_preferred[queued] or queued)
        table = tables[take]
        if table is None:
            table = tables[take] = service_of(take)
        done = now + table[levels[len(taken)]]
        heapq.heappush(free, (done, instance))
        released = now
        head += take
        dispatched.append(now)
        completed.append(done)
        taken.append(take)
    return dispatched, completed, taken


def _simulate(service: ServiceTimes, config: _Config) -> Prediction:
    arrivals, stop = _arrivals(config)
    n = len(arrivals)
    # Service draws come from their own stream, so that the arrivals of a
    # seed stay the same whatever the service times.
    levels = np.random.default_rng((config.seed, 1)).integers(QUANTILE_LEVELS, size=n).tolist()
    at_levels = (np.arange(QUANTILE_LEVELS) + 0.5) / QUANTILE_LEVELS
    rb = config.batch_size

    def service_of(take: int) -> list[float]:
        return service.quantile(config.computed_size(take * rb), at_levels).tolist()

    dispatched, completed, taken = _dispatch(arrivals.tolist(), stop, config, service_of, levels)
    takes = np.asarray(taken, dtype=np.int64)
    served = int(takes.sum())
    batch_of = np.repeat(np.arange(takes.size), takes)
    response = np.sort((np.asarray(completed)[batch_of] - arrivals[:served]) * 1e3)
    wait = (np.asarray(dispatched)[batch_of] - arrivals[:served]) * 1e3
    items = takes * rb
    distinct, which = np.unique(takes, return_inverse=True)
    computed = np.array([config.computed_size(int(k) * rb) for k in distinct], dtype=np.int64)[which]
    span = max(stop, max(completed, default=0.0))
    sizes, counts = np.unique(items, return_counts=True)

    def pct(values: np.ndarray, p: float) -> float:
        return float(np.percentile(values, p, method="inverted_cdf")) if values.size else math.nan

    served_fraction = served / n
    prediction = Prediction(
        rate_per_s=config.rate, max_batch=config.max_batch, max_queue_delay=config.max_queue_delay,
        instances=config.instances, preferred_batches=config.preferred_batches, batch_size=rb,
        p50_ms=pct(response, 50), p90_ms=pct(response, 90), p95_ms=pct(response, 95), p99_ms=pct(response, 99),
        mean_ms=float(response.mean()) if served else math.nan,
        queue_wait_p50_ms=pct(wait, 50), queue_wait_p99_ms=pct(wait, 99),
        mean_batch_items=float(items.mean()) if takes.size else math.nan,
        padding_fraction=float((computed.sum() - items.sum()) / computed.sum()) if takes.size else 0.0,
        batch_size_counts={int(s): int(c) for s, c in zip(sizes, counts)},
        achieved_rate_per_s=served / span, sustained=served_fraction >= SUSTAINED_SHARE, requests=n,
        served_fraction=served_fraction, notes=[], response_ms=response)
    prediction.notes = _notes(service, config, prediction, set(computed.tolist()))
    return prediction


def _notes(service: ServiceTimes, config: _Config, p: Prediction, computed_sizes: set[int]) -> list[str]:
    """What a reader must know to trust the prediction."""
    notes = []
    if config.instances != service.instances:
        notes.append(f"service times were measured with {service.instances} instance(s) side by side, simulated "
                     f"with {config.instances}: contention differs, so each batch's time likely does too")
    unmeasured = service.unmeasured(computed_sizes)
    if unmeasured:
        which = (f"batch size {unmeasured[0]} was" if len(unmeasured) == 1
                 else f"batch sizes {', '.join(map(str, unmeasured))} were")
        notes.append(f"{which} not measured: service times interpolated between (or, below, taken from) the "
                     f"measured sizes {', '.join(map(str, service.sizes))}")
    if not p.sustained:
        notes.append(f"not sustained: {p.served_fraction:.1%} of the {p.requests} arrivals were dispatched before "
                     f"the schedule ended; the queue grows without bound, and latency with the schedule's length")
    return notes


def _capacity_bound(service: ServiceTimes, config: _Config) -> float:
    """Requests/s no rate above which the instances could serve: each batch
    of k requests takes at least the shortest service time at its size."""
    rb = config.batch_size
    per_batch = max(k / float(service.quantile(config.computed_size(k * rb), 0.0)[0])
                    for k in range(1, config.most_requests + 1))
    return per_batch * config.instances


def highest_rate(service: ServiceTimes, *, sla: Sla | str, precision: float = 0.01,
                 **config) -> tuple[float, Prediction]:
    """The highest rate (requests/s) at which the batcher meets `sla` (e.g.
    "p95<10ms") on response time and sustains the load, within `precision`
    (relative), with its prediction. `config`: simulate()'s settings but the
    rate. Rates step down from the capacity bound until one meets the SLA,
    then bisection closes in on the failing rate above it: stepping down,
    not bisecting from 0, because latency need not rise with the rate (with
    a queue delay, a low rate waits the delay out for every batch). (0.0,
    the lowest rate's prediction) when no rate down to 1/1024 of the bound meets."""
    sla = parse_sla(sla) if isinstance(sla, str) else sla
    if not isinstance(sla, Sla):
        raise ValueError(f"sla must be an Sla or text such as 'p95<10ms', got {sla!r}")
    if "rate" in config:
        raise ValueError("highest_rate searches the rate itself: leave out rate")
    if not (isinstance(precision, (int, float)) and 0 < precision < 1):
        raise ValueError(f"precision must be between 0 and 1 (relative), got {precision!r}")
    base = _Config.checked(service, rate=1.0, **config)
    top = _capacity_bound(service, base)

    def judge(rate: float) -> tuple[bool, Prediction]:
        prediction = _simulate(service, replace(base, rate=rate))
        return meets_sla(sla, prediction), prediction

    rate, high = top, None
    meets, prediction = judge(rate)
    while not meets:
        high, rate = rate, rate * BRACKET_STEP
        if rate < top * LOWEST_SHARE:
            return 0.0, prediction
        meets, prediction = judge(rate)
    low, best = rate, prediction
    while high is not None and high - low > precision * high:
        middle = (low + high) / 2
        meets, prediction = judge(middle)
        if meets:
            low, best = middle, prediction
        else:
            high = middle
    return low, best


def _sizes(name: str, sizes) -> tuple[int, ...]:
    """Batch sizes in items, ascending and distinct."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
        raise ValueError(f"{name} must be a sequence of batch sizes, e.g. (4, 8), got {sizes!r}")
    checked = sorted(_whole(f"each of {name}", s) for s in sizes)
    if len(set(checked)) != len(checked):
        raise ValueError(f"{name} names a size twice: {sizes!r}")
    return tuple(checked)


def parse_numbers(option: str, text: str, kind: type) -> list:
    """A comma-separated option value ("500,1000") as numbers of `kind`."""
    try:
        return [kind(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{option} must be comma-separated {'whole ' if kind is int else ''}numbers, e.g. "
                         f"{'4,8' if kind is int else '500,1000'}; got {text!r}") from None


def parse_number(option: str, text: str, kind: type):
    """One number of `kind` from an option's text."""
    values = parse_numbers(option, text, kind)
    if len(values) != 1:
        raise ValueError(f"{option} takes one number, got {text!r}")
    return values[0]


def table(rows: list[tuple[Prediction, bool | None]]) -> str:
    """Predictions one per line; with a verdict, whether each met the SLA."""
    judged = any(meets is not None for _, meets in rows)
    lines = [f"{'rate /s':>10} {'max_batch':>9} {'delay ms':>8} {'inst':>4} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'p99 ms':>8} {'mean batch':>10} {'padding':>7} {'achieved /s':>11}  sustained"
             + ("  meets" if judged else "")]
    for p, meets in rows:
        lines.append(f"{p.rate_per_s:10.1f} {p.max_batch:9d} {p.max_queue_delay * 1e3:8.3f} {p.instances:4d} "
                     f"{p.p50_ms:8.3f} {p.p95_ms:8.3f} {p.p99_ms:8.3f} {p.mean_batch_items:10.2f} "
                     f"{p.padding_fraction:7.1%} {p.achieved_rate_per_s:11.1f}  {'yes' if p.sustained else 'NO':>9}"
                     + (f"  {'yes' if meets else 'no':>5}" if judged else ""))
    return "\n".join(lines)
