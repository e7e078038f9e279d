"""The points of a sweep: every combination of model variant, precision,
client threads, batch size and, in an open loop, arrival rate, in a fixed
order with a stable key each."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import product

import numpy as np

from infermeter.sweep.config import AXES, ModelConfig, SweepConfig

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
    rate: float | None = None  # open loop at this many requests/s; None: closed loop, or a rate search
    find_rate: bool = False  # open loop at the highest rate meeting the sweep's SLA, searched
    # Values of the sweep's other axes (options beyond batch size, threads,
    # runner and rate), as ((option, value), ...).
    extra: tuple[tuple[str, object], ...] = ()

    @property
    def open_loop(self) -> bool:
        return self.rate is not None or self.find_rate

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
        (`|r500`, `|find-rate`), so closed-loop keys stay as they always were."""
        load = f"|r{format_rate(self.rate)}" if self.rate is not None else "|find-rate" if self.find_rate else ""
        return f"{self.series}|b{self.batch_size}{load}"

    @property
    def load_label(self) -> str:
        """How requests arrive: "closed", "open 500/s" or "find-rate"."""
        if self.rate is not None:
            return f"open {format_rate(self.rate)}/s"
        return "find-rate" if self.find_rate else "closed"

    @property
    def variant_label(self) -> str:
        return " ".join(f"{k} {v}" for k, v in self.variant)

    def options(self) -> dict:
        """The run options this point sets: its batch size, threads, runner,
        rate and other axes' values."""
        rate = {"rate": self.rate} if self.rate is not None else {}
        return {"batch_size": self.batch_size, "threads": self.threads, "runner": self.runner, **rate,
                **dict(self.extra)}

    def to_dict(self) -> dict:
        return asdict(self) | {"variant": dict(self.variant), "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, doc: dict) -> "Point":
        return cls(doc["model"], tuple(sorted(doc["variant"].items())), doc["precision"], doc["batch_size"],
                   doc["threads"], doc.get("entry", 0), doc.get("runner", DEFAULT_RUNNER), doc.get("rate"),
                   doc.get("find_rate", False), tuple(doc.get("extra", {}).items()))


def format_rate(rate: float) -> str:
    """A rate as its shortest exact decimal: 500, 1250.5."""
    return np.format_float_positional(rate, trim="-")


def _variants(m: ModelConfig) -> list[tuple[tuple[str, int], ...]]:
    axes = [[(key, v) for v in values] for key, values in (("resolution", m.resolution), ("seq_len", m.seq_len))
            if values]
    return [tuple(sorted(combo)) for combo in product(*axes)]


def _loads(config: SweepConfig, m: ModelConfig) -> list[tuple[float | None, bool]]:
    """(rate, find_rate) of each point of a batch size, ascending rates."""
    rates, find = config.load_of(m)
    return [(None, True)] if find else [(r, False) for r in sorted(rates)] if rates else [(None, False)]


def _extras(config: SweepConfig, m: ModelConfig) -> list[tuple[tuple[str, object], ...]]:
    """Each combination of the other axes' values, ((option, value), ...)."""
    keys = [k for k in AXES if k not in KEYED_AXES and config.axis_of(m, k) is not None]
    return [tuple(zip((AXES[k] for k in keys), values)) for values in product(*(config.axis_of(m, k) for k in keys))]


def expand(config: SweepConfig) -> list[Point]:
    """Model by model, then variant, precision, runner, threads and other
    axes; batch sizes ascending, so that an out-of-memory batch is met before
    larger ones; rates innermost."""
    points = []
    for entry, m in enumerate(config.models):
        precisions = [AS_EXPORTED] if m.is_file else (m.precisions or config.precisions)
        for variant, precision, runner, threads, extra in product(
                _variants(m), precisions, config.axis_of(m, "runners"), sorted(config.axis_of(m, "threads")),
                _extras(config, m)):
            for batch, (rate, find) in product(sorted(config.axis_of(m, "batch_sizes")), _loads(config, m)):
                points.append(Point(m.name, variant, precision, batch, threads, entry, runner, rate, find, extra))
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise ValueError(f"sweep {config.name!r} lists the same point twice; check for repeated models")
    return points
