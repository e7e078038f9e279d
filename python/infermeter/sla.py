"""Latency service-level objectives: `p90<15ms` and the like."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SLA = re.compile(r"^\s*p(\d+(?:\.\d+)?)\s*(<=|<)\s*(\d+(?:\.\d+)?)\s*(ms|us|µs|s)\s*$")
_TO_MS = {"ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1e3}


@dataclass(frozen=True)
class Sla:
    percentile: float
    limit_ms: float
    inclusive: bool

    def __str__(self) -> str:
        return f"p{self.percentile:g}{'<=' if self.inclusive else '<'}{self.limit_ms:g}ms"

    @property
    def min_samples(self) -> int:
        """The fewest samples that state the percentile (MLPerf LoadGen's
        floor, as the result documents use)."""
        from infermeter._native import min_samples_for_percentile

        return min_samples_for_percentile(self.percentile / 100)

    def latency_ms(self, result) -> float:
        """The percentile in ms of what the SLA judges (`Result.judged`:
        response time in an open loop, host latency in a closed one); NaN
        when the run has fewer than `min_samples` samples."""
        h = result.judged_histogram
        if h is None or h.get_total_count() < self.min_samples:
            return math.nan
        return h.get_value_at_percentile(self.percentile) / 1e6

    def met_by(self, result) -> bool:
        """Whether the run met the SLA: its percentile is stated (enough
        samples) and within the limit."""
        value = self.latency_ms(result)
        return value <= self.limit_ms if self.inclusive else value < self.limit_ms


def parse_sla(text: str) -> Sla:
    """'p90<15ms', 'p99<=200us', 'p50<1s'."""
    match = _SLA.match(text)
    if not match or not 0 < float(match[1]) < 100:
        raise ValueError(f"SLA {text!r} is not of the form p<percentile><limit with a unit, e.g. p90<15ms")
    limit_ms = float(match[3]) * _TO_MS[match[4]]
    if limit_ms == 0:
        # No latency is 0 (or below it): such an SLA would be searched for a rate that cannot exist.
        raise ValueError(f"SLA {text!r}: the latency limit must be positive, e.g. p90<15ms")
    if not math.isfinite(limit_ms):
        # A limit of hundreds of digits reads as infinity: every point would meet it, and it would print as 'inf'.
        raise ValueError(f"SLA {text!r}: the latency limit must be a finite number, e.g. p90<15ms")
    return Sla(float(match[1]), limit_ms, match[2] == "<=")
