"""A measurement's result: the engine's document, with convenient views."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hdrh.histogram import HdrHistogram

from infermeter.intervals import percentile_interval_ms, throughput_interval_kind
from infermeter.resources import Energy, Memory

from infermeter import _native

# The engine's (result_builder.h): the document's schema and the percentiles it states.
SCHEMA = _native.RESULT_SCHEMA
PERCENTILES = tuple(key.removesuffix("_ns") for key in _native.PERCENTILE_KEYS)


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
    saturated: int = 0  # samples above the histogram's hour, counted at an hour

    @classmethod
    def from_doc(cls, doc: dict) -> "LatencySummary":
        # A percentile the sample count cannot support is stored as null and read as NaN.
        return cls(count=doc["count"], saturated=doc.get("saturated", 0),
                   **{k: math.nan if doc.get(f"{k}_ns") is None else doc[f"{k}_ns"] / 1e6
                      for k in ("mean", "stddev", "min", *PERCENTILES, "max")})


@dataclass(frozen=True)
class BatchCompute:
    """How long the batches computed at one size took, in milliseconds."""

    batches: int
    mean_ms: float
    min_ms: float
    max_ms: float


@dataclass(frozen=True)
class Batching:
    """A dynamic-batching run's batcher: its settings and the batches it
    formed. Sizes are in items (a request holds `request_items`); a graph
    runner computes a batch at the captured size that holds it, and the
    items it adds are `padded_items` (never counted as inferences)."""

    max_batch: int
    max_queue_delay_s: float
    preferred_batches: tuple[int, ...]
    request_items: int
    batches: int
    items: int
    mean_batch_items: float  # NaN when no batch was measured
    batches_by_items: dict[int, int]  # items in a batch -> batches of that many
    compute_by_size: dict[int, BatchCompute]  # computed size -> its batches' compute time
    padded_items: int
    padding_fraction: float

    @classmethod
    def from_load(cls, load: dict) -> "Batching":
        batcher, batches = load["batcher"], load["batches"]
        mean = batches.get("mean_batch_items")
        return cls(max_batch=batcher["max_batch"], max_queue_delay_s=batcher["max_queue_delay_s"],
                   preferred_batches=tuple(batcher["preferred_batches"]), request_items=batcher["request_items"],
                   batches=batches["batches"], items=batches["items"],
                   mean_batch_items=math.nan if mean is None else mean,
                   batches_by_items={int(n): count for n, count in batches["batches_by_items"].items()},
                   compute_by_size={int(size): BatchCompute(c["batches"], c["mean_ns"] / 1e6, c["min_ns"] / 1e6,
                                                            c["max_ns"] / 1e6)
                                    for size, c in batches["compute_by_size"].items()},
                   padded_items=batches["padded_items"], padding_fraction=batches["padding_fraction"])


class Result:
    """Everything one run measured. `to_dict()`/`from_dict()` round-trip it
    through JSON without loss (histograms stay in HdrHistogram's encoding)."""

    def __init__(self, doc: dict):
        if not isinstance(doc, dict):
            raise ValueError(f"not an infermeter result (a JSON {type(doc).__name__}, not an object)")
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
    def latency(self) -> LatencySummary | None:
        """Host latency: from issuing a request to its outputs being ready
        (with dynamic batching, the compute time of the batch it went in);
        None when no request was measured (see `outcome`)."""
        doc = self._doc["latency"]["host"]
        return LatencySummary.from_doc(doc) if doc else None

    @property
    def warnings(self) -> list[str]:
        """What a reader must know to trust the figures (e.g. CPU threads contending)."""
        return self._doc.get("warnings") or []

    @property
    def outcome(self) -> str:
        """"ok", or "no_samples" when no measured request completed (the
        cause is in `to_dict()["measurement"]["no_samples_cause"]`)."""
        return self._doc["measurement"].get("outcome", "ok")

    @property
    def runner(self) -> str:
        return self._doc["config"].get("runner", "torchscript")

    @property
    def response_latency(self) -> LatencySummary | None:
        """Open loop and dynamic batching: from when each request was due to
        its completion (queue wait plus service); None in a closed loop, where
        it equals `latency`."""
        doc = self._doc["latency"].get("response")
        return LatencySummary.from_doc(doc) if doc else None

    @property
    def judged(self) -> str:
        """Which latency an SLA judges and reports show: "response" in an open
        loop (what the load's clients saw, queueing included), else "host".
        The engine's repeat summary follows the same one."""
        return "response" if self._doc["latency"].get("response") else "host"

    @property
    def judged_latency(self) -> LatencySummary | None:
        """The `judged` latency; None when no request was measured."""
        return self.response_latency if self.judged == "response" else self.latency

    @property
    def queue_wait(self) -> LatencySummary | None:
        """Open loop: from when each request was due until a client started it
        (with dynamic batching, until its batch was dispatched)."""
        doc = self._doc["latency"].get("queue_wait")
        return LatencySummary.from_doc(doc) if doc else None

    @property
    def dispatch_latency(self) -> LatencySummary | None:
        """Open loop: the harness's own lateness, from when a request could
        have been issued (due, and a client free) to when it was."""
        doc = self._doc["latency"].get("dispatch")
        return LatencySummary.from_doc(doc) if doc else None

    @property
    def load_info(self) -> dict:
        """The load: {"kind": "closed"}, or the open loop's offered and
        achieved rates, requests queued at the end and whether it kept up
        (with dynamic batching, its batcher too: see `batching`)."""
        return self._doc["measurement"].get("load") or {"kind": "closed"}

    @property
    def batching(self) -> Batching | None:
        """Dynamic batching: the batcher's settings and the batches it
        formed; None under any other load."""
        load = self.load_info
        return Batching.from_load(load) if load["kind"] == "dynamic-batching" else None

    @property
    def memory(self) -> Memory | None:
        """Host and device memory peaks over the measuring phase and the
        static bound; None for a result that measured none (older, or from
        timings taken elsewhere)."""
        doc = self._doc.get("memory")
        return Memory.from_doc(doc) if doc else None

    @property
    def energy(self) -> Energy | None:
        """Energy over the measuring phase (GPU: NVML; CPU: RAPL), each None
        with the reason where it cannot be read; None for a result that
        measured none."""
        doc = self._doc.get("energy")
        return Energy.from_doc(doc) if doc else None

    @property
    def interval_kind(self) -> str | None:
        """Which throughput interval this result states: "within-run" (this
        run's batch means: how precisely the run is known, not where the next
        one lands) or "across-runs" (repeat >= 2: the runs' agreement);
        None when it states none. Its percentile intervals are of the same kind."""
        return throughput_interval_kind(self._doc)

    def percentile_interval_ms(self, percentile: float) -> tuple[float, float, str] | None:
        """(lo, hi, kind) in ms: the 95% interval of the judged latency's
        percentile (intervals.percentile_interval_ms); None when the samples
        cannot bound it on both sides."""
        return percentile_interval_ms(self._doc, percentile)

    @property
    def repeats(self) -> dict | None:
        """For a repeated measurement: every run's figures, which run this
        result is (the median throughput), and the mean, stddev, CV and 95%
        interval of throughput and latency percentiles across runs."""
        return self._doc.get("repeats")

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
    def histogram(self) -> HdrHistogram | None:
        """Host latency in nanoseconds; None when no request was measured."""
        doc = self._doc["latency"]["host"]
        return HdrHistogram.decode(doc["histogram"]) if doc else None

    @cached_property
    def response_histogram(self) -> HdrHistogram | None:
        """Open loop: response time in nanoseconds; None in a closed loop."""
        doc = self._doc["latency"].get("response")
        return HdrHistogram.decode(doc["histogram"]) if doc else None

    @property
    def judged_histogram(self) -> HdrHistogram | None:
        """The `judged` latency in nanoseconds; None when no request was measured."""
        return self.response_histogram if self.judged == "response" else self.histogram

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
        """Writes the document whole or not at all (an earlier file at `path`
        stays untouched when the write fails)."""
        _native.write_file_atomically(str(path), json.dumps(self._doc, indent=2) + "\n")

    def save_interval_log(self, path: str | Path) -> None:
        """Host latency as an HdrHistogram interval log, as `infermeter-bench --hlog` writes it."""
        _native.write_interval_log(str(path), json.dumps(self._doc))

    @classmethod
    def load(cls, path: str | Path) -> "Result":
        """The result saved at `path`; ValueError naming the file when it holds none."""
        try:
            return cls(json.loads(Path(path).read_text()))
        except RecursionError:  # JSON nested thousands deep: no result is
            raise ValueError(f"{path}: not an infermeter result (JSON nested too deeply)") from None
        except ValueError as e:  # not JSON, or not a result: named, since a reader may read many
            raise ValueError(f"{path}: {' '.join(str(e).split())}") from None

    def summary(self) -> str:
        """The console summary, the same text infermeter-bench prints."""
        from infermeter._native import console_summary

        return console_summary(json.dumps(self._doc)).rstrip("\n")

    def __repr__(self) -> str:
        if self._doc["latency"]["host"] is None:
            return f"Result(no samples: {self._doc['measurement'].get('no_samples_cause')})"
        lat = self.latency
        return (f"Result({self.inferences_per_s:.1f} inf/s, p50 {_ms(lat.p50)}, p99 {_ms(lat.p99)}, "
                f"batch {self.config['batch_size']}, threads {self.config['threads']})")


def _ms(value: float) -> str:
    """A percentile for repr; "-" where the samples cannot state it, as the summary shows it."""
    return "-" if math.isnan(value) else f"{value:.3f} ms"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a measurement: `result` holds what was measured until
    then (marked interrupted), so nothing already measured is lost."""

    def __init__(self, result: Result):
        super().__init__("interrupted: the partial result is in .result")
        self.result = result
