"""The points of a sweep: every combination of model variant, precision,
client threads, batch size, the dynamic batcher's settings under dynamic
batching and, with either arrival load, arrival rate, in a fixed order with
a stable key each."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import product
from math import prod

import numpy as np

from infermeter.options import DYNAMIC_BATCHING
from infermeter.sweep.config import AXES, ModelConfig, SweepConfig
from infermeter.units import format_duration_ms

AS_EXPORTED = "as-exported"  # the precision of a TorchScript file in a sweep
# Axes with a place of their own in a point's key; others are keyed by name.
KEYED_AXES = ("batch_sizes", "threads", "runners", "rates")
# The default runner; records from before runners were recorded ran it.
DEFAULT_RUNNER = "torchscript"


@dataclass(frozen=True)
class Point:
    model: str
    variant: tuple[tuple[str, int], ...]  # swept model options, e.g. (("seq_len", 128),)
    precision: str
    batch_size: int
    threads: int
    entry: int = 0  # which of the config's `models` it comes from; not part of the key
    runner: str = DEFAULT_RUNNER
    rate: float | None = None  # arrivals at this many requests/s; None: closed loop, or a rate search
    find_rate: bool = False  # arrivals at the highest rate meeting the sweep's SLA, searched
    # Values of the sweep's other axes (options beyond batch size, threads,
    # runner and rate), as ((option, value), ...): under dynamic batching,
    # the batcher's max_batch and max_queue_delay among them.
    extra: tuple[tuple[str, object], ...] = ()
    dynamic_batching: bool = False  # the arrivals go to a dynamic batcher, not straight to the threads

    @property
    def open_loop(self) -> bool:
        """Whether requests arrive on a schedule (open loop or dynamic batching)."""
        return self.rate is not None or self.find_rate

    @property
    def load(self) -> str:
        """The engine's load: closed, open or dynamic-batching."""
        return DYNAMIC_BATCHING if self.dynamic_batching else "open" if self.open_loop else "closed"

    @property
    def series(self) -> str:
        """The point's key without its batch size and load: OOM at one batch
        size skips the larger ones of the same series, at every rate (and the
        same batch at other rates). The runner is named when it
        is not the default, so keys of sweeps that predate runners stay valid."""
        variant = ",".join(f"{k}={v}" for k, v in self.variant)
        runner = "" if self.runner == DEFAULT_RUNNER else f"|{self.runner}"
        extra = "".join(f"|{k}={v}" for k, v in self.extra)
        return f"{self.model}|{variant}|{self.precision}{runner}|t{self.threads}{extra}"

    @property
    def key(self) -> str:
        """The series and batch size; an open-loop point adds its load
        (`|r500`, `|find-rate`), so closed-loop keys stay as they always were,
        and a dynamic-batching point names it first (`|dynamic-batching|r500`);
        its batcher's settings are in the series."""
        load = f"|r{format_rate(self.rate)}" if self.rate is not None else "|find-rate" if self.find_rate else ""
        batching = f"|{DYNAMIC_BATCHING}" if self.dynamic_batching else ""
        return f"{self.series}|b{self.batch_size}{batching}{load}"

    @property
    def load_label(self) -> str:
        """How requests arrive: "closed", "open 500/s", "find-rate",
        "dynamic-batching 500/s" or "dynamic-batching find-rate"."""
        if self.rate is not None:
            rate = f"{format_rate(self.rate)}/s"
            return f"{DYNAMIC_BATCHING} {rate}" if self.dynamic_batching else f"open {rate}"
        if self.find_rate:
            return f"{DYNAMIC_BATCHING} find-rate" if self.dynamic_batching else "find-rate"
        return "closed"

    @property
    def batcher(self) -> dict:
        """A dynamic-batching point's max_batch and max_queue_delay (s), from
        its axes; empty under other loads."""
        settings = dict(self.extra)
        return {name: settings[name] for name in ("max_batch", "max_queue_delay")} if self.dynamic_batching else {}

    @property
    def batcher_label(self) -> str:
        """A dynamic-batching point's batcher, "max_batch 8, max_queue_delay
        1.00 ms"; empty under other loads."""
        b = self.batcher
        return batcher_label(b["max_batch"], b["max_queue_delay"] * 1e3) if b else ""

    @property
    def variant_label(self) -> str:
        return " ".join(f"{k} {v}" for k, v in self.variant)

    def options(self) -> dict:
        """The run options this point sets: its batch size, threads, runner,
        rate and other axes' values."""
        rate = {"rate": self.rate} if self.rate is not None else {}
        return {"batch_size": self.batch_size, "threads": self.threads, "runner": self.runner, "load": self.load,
                **rate, **dict(self.extra)}

    def to_dict(self) -> dict:
        return asdict(self) | {"variant": dict(self.variant), "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, doc: dict) -> "Point":
        return cls(doc["model"], tuple(sorted(doc["variant"].items())), doc["precision"], doc["batch_size"],
                   doc["threads"], doc.get("entry", 0), doc.get("runner", DEFAULT_RUNNER), doc.get("rate"),
                   doc.get("find_rate", False), tuple(doc.get("extra", {}).items()),
                   doc.get("dynamic_batching", False))


def format_rate(rate: float) -> str:
    """A rate as its shortest exact decimal: 500, 1250.5."""
    return np.format_float_positional(rate, trim="-")


def batcher_label(max_batch, max_queue_delay_ms: float) -> str:
    """The dynamic batcher's settings as labels show them: "max_batch 8, max_queue_delay 1.00 ms"."""
    delay = "0" if max_queue_delay_ms == 0 else format_duration_ms(max_queue_delay_ms)
    return f"max_batch {max_batch:g}, max_queue_delay {delay}"


def _variants(m: ModelConfig) -> list[tuple[tuple[str, int], ...]]:
    axes = [[(key, v) for v in values] for key, values in (("resolution", m.resolution), ("seq_len", m.seq_len))
            if values]
    return [tuple(sorted(combo)) for combo in product(*axes)]


def _loads(config: SweepConfig, m: ModelConfig) -> list[tuple[float | None, bool]]:
    """(rate, find_rate) of each point of a batch size, ascending rates."""
    load = config.load_of(m)
    return [(None, True)] if load.find_rate else [(r, False) for r in sorted(load.rates)] if load.rates else \
        [(None, False)]


def _extra_axes(config: SweepConfig, m: ModelConfig) -> list[str]:
    """The other axes (beyond batch size, threads, runner and rate) that apply to model `m`."""
    return [k for k in AXES if k not in KEYED_AXES and config.axis_of(m, k) is not None]


def _extras(config: SweepConfig, m: ModelConfig) -> list[tuple[tuple[str, object], ...]]:
    """Each combination of the other axes' values, ((option, value), ...)."""
    keys = _extra_axes(config, m)
    return [tuple(zip((AXES[k] for k in keys), values)) for values in product(*(config.axis_of(m, k) for k in keys))]


def _precisions(config: SweepConfig, m: ModelConfig) -> list[str]:
    return [AS_EXPORTED] if m.is_file else (m.precisions or config.precisions)


def point_count(config: SweepConfig) -> int:
    """How many points expand(config) makes, counted without making them
    (a grid too large to run should be refused before it is built)."""
    return sum(len(_variants(m)) * len(_precisions(config, m)) * len(_loads(config, m))
               * prod(len(config.axis_of(m, k)) for k in ("runners", "threads", "batch_sizes", *_extra_axes(config, m)))
               for m in config.models)


def expand(config: SweepConfig) -> list[Point]:
    """Model by model, then variant, precision, runner, threads and other
    axes; batch sizes ascending, so that an out-of-memory batch is met before
    larger ones; rates innermost."""
    points = []
    for entry, m in enumerate(config.models):
        batching = config.load_of(m).batching
        for variant, precision, runner, threads, extra in product(
                _variants(m), _precisions(config, m), config.axis_of(m, "runners"),
                sorted(config.axis_of(m, "threads")), _extras(config, m)):
            for batch, (rate, find) in product(sorted(config.axis_of(m, "batch_sizes")), _loads(config, m)):
                points.append(Point(m.name, variant, precision, batch, threads, entry, runner, rate, find, extra,
                                    batching))
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise ValueError(f"sweep {config.name!r} lists the same point twice; check for repeated models")
    return points
