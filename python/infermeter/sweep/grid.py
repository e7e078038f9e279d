"""The points of a sweep: every combination of model variant, precision,
client threads and batch size, in a fixed order with a stable key each."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import product

from infermeter.sweep.config import ModelConfig, SweepConfig

AS_EXPORTED = "as-exported"  # the precision of a TorchScript file in a sweep
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

    @property
    def series(self) -> str:
        """The point's key without its batch size: OOM at one batch size
        skips the larger ones of the same series. The runner is named when it
        is not the default, so keys of sweeps that predate runners stay valid."""
        variant = ",".join(f"{k}={v}" for k, v in self.variant)
        runner = "" if self.runner == DEFAULT_RUNNER else f"|{self.runner}"
        return f"{self.model}|{variant}|{self.precision}{runner}|t{self.threads}"

    @property
    def key(self) -> str:
        return f"{self.series}|b{self.batch_size}"

    @property
    def variant_label(self) -> str:
        return " ".join(f"{k} {v}" for k, v in self.variant)

    def to_dict(self) -> dict:
        return asdict(self) | {"variant": dict(self.variant)}

    @classmethod
    def from_dict(cls, doc: dict) -> "Point":
        return cls(doc["model"], tuple(sorted(doc["variant"].items())), doc["precision"], doc["batch_size"],
                   doc["threads"], doc.get("entry", 0), doc.get("runner", DEFAULT_RUNNER))


def _variants(m: ModelConfig) -> list[tuple[tuple[str, int], ...]]:
    axes = [[(key, v) for v in values] for key, values in (("resolution", m.resolution), ("seq_len", m.seq_len))
            if values]
    return [tuple(sorted(combo)) for combo in product(*axes)]


def expand(config: SweepConfig) -> list[Point]:
    """Model by model, then variant, precision, runner, threads; batch sizes
    innermost and ascending, so that an out-of-memory batch is met before
    larger ones."""
    points = []
    for entry, m in enumerate(config.models):
        precisions = [AS_EXPORTED] if m.is_file else (m.precisions or config.precisions)
        for variant, precision, runner, threads in product(_variants(m), precisions, m.runners or config.runners,
                                                           sorted(m.threads or config.threads)):
            for batch in sorted(m.batch_sizes or config.batch_sizes):
                points.append(Point(m.name, variant, precision, batch, threads, entry, runner))
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise ValueError(f"sweep {config.name!r} lists the same point twice; check for repeated models")
    return points
