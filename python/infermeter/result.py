"""A measurement's result: the engine's document, with convenient views."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hdrh.histogram import HdrHistogram

SCHEMA = "infermeter.result/1"
PERCENTILES = ("p50", "p90", "p95", "p99", "p99_9")


@dataclass(frozen=True)
class LatencySummary:
    """Latency statistics in milliseconds, read off the HDR histogram."""

    count: int
    mean: float
    stddev: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    p99_9: float
    max: float

    @classmethod
    def from_doc(cls, doc: dict) -> "LatencySummary":
        return cls(count=doc["count"], **{k: doc[f"{k}_ns"] / 1e6 for k in
                                          ("mean", "stddev", "min", *PERCENTILES, "max")})


class Result:
    """Everything one run measured. `to_dict()`/`from_dict()` round-trip it
    through JSON without loss (histograms stay in HdrHistogram's encoding)."""

    def __init__(self, doc: dict):
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"not an infermeter result (schema {doc.get('schema')!r}, expected {SCHEMA!r})")
        self._doc = doc

    # Throughput
    @property
    def inferences_per_s(self) -> float:
        return self._doc["measurement"]["inferences_per_s"]

    @property
    def requests_per_s(self) -> float:
        return self._doc["measurement"]["requests_per_s"]

    @property
    def requests(self) -> int:
        return self._doc["measurement"]["requests"]

    @property
    def warmup_requests(self) -> int:
        return self._doc["measurement"]["warmup_requests"]

    @property
    def elapsed_s(self) -> float:
        return self._doc["measurement"]["elapsed_s"]

    # Latency
    @property
    def latency(self) -> LatencySummary:
        """Host latency: from issuing a request to its outputs being ready."""
        return LatencySummary.from_doc(self._doc["latency"]["host"])

    @property
    def device_latency(self) -> LatencySummary | None:
        """GPU time between events around each request, or None on the CPU."""
        doc = self._doc["latency"]["device"]
        return LatencySummary.from_doc(doc) if doc else None

    @property
    def launch_latency(self) -> LatencySummary | None:
        """On a GPU, CPU time to issue each request (until the model call
        returned, before waiting for the GPU); None on the CPU."""
        doc = self._doc["latency"]["launch"]
        return LatencySummary.from_doc(doc) if doc else None

    @cached_property
    def histogram(self) -> HdrHistogram:
        """Host latency in nanoseconds."""
        return HdrHistogram.decode(self._doc["latency"]["host"]["histogram"])

    @cached_property
    def device_histogram(self) -> HdrHistogram | None:
        doc = self._doc["latency"]["device"]
        return HdrHistogram.decode(doc["histogram"]) if doc else None

    # Context
    @property
    def completions(self) -> list[int]:
        """Requests completed in each window of `window_s` since measuring began."""
        return self._doc["timeline"]["completions"]

    @property
    def window_s(self) -> float:
        return self._doc["timeline"]["window_s"]

    @property
    def config(self) -> dict:
        return self._doc["config"]

    @property
    def model(self) -> dict:
        return self._doc["model"]

    @property
    def calibration(self) -> dict | None:
        return self._doc["calibration"]

    @property
    def environment(self) -> dict:
        return self._doc["environment"]

    # Serialisation
    def to_dict(self) -> dict:
        return copy.deepcopy(self._doc)

    @classmethod
    def from_dict(cls, doc: dict) -> "Result":
        return cls(copy.deepcopy(doc))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self._doc, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Result":
        return cls(json.loads(Path(path).read_text()))

    def summary(self) -> str:
        c, m = self.config, self._doc["measurement"]
        lines = [
            f"model        {self.model.get('path', '?')}",
            f"device       {c['device']}, batch {c['batch_size']}, {c['threads']} thread(s), {c['replicas']} replicas",
            f"requests     {m['requests']} in {m['elapsed_s']:.3f} s" + (" (interrupted)" if m["interrupted"] else ""),
            f"throughput   {m['inferences_per_s']:.1f} inferences/s, {m['requests_per_s']:.1f} requests/s",
        ]
        for label, lat in (("host", self.latency), ("launch", self.launch_latency), ("device", self.device_latency)):
            if lat:
                lines.append(f"{label:<6} ms    mean {lat.mean:.3f}  p50 {lat.p50:.3f}  p90 {lat.p90:.3f}  "
                             f"p95 {lat.p95:.3f}  p99 {lat.p99:.3f}  max {lat.max:.3f}")
        if self.calibration:
            lines.append(f"harness      {self.calibration['noop_request_ns']:.0f} ns per no-op request")
        return "\n".join(lines)

    def __repr__(self) -> str:
        lat = self.latency
        return (f"Result({self.inferences_per_s:.1f} inf/s, p50 {lat.p50:.3f} ms, p99 {lat.p99:.3f} ms, "
                f"batch {self.config['batch_size']}, threads {self.config['threads']})")
