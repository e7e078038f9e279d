"""Which interval a result states, and the one for an SLA's percentile.

A single run states within-run intervals: batch means for throughput, order
statistics for percentiles. They say how precisely that run is known, not
where the next run lands: between processes the figures move further
(docs/intervals.md measures how far). A repeated result (`repeat` >= 2, each
run a fresh process) states across-run intervals instead, the runs' own
agreement. Every reader that judges with an interval (compare, recommend,
the report, find_rate) says which kind it used."""

from __future__ import annotations

import math

from infermeter import _native

WITHIN_RUN = "within-run"
ACROSS_RUNS = "across-runs"


def throughput_interval_kind(doc: dict) -> str | None:
    """The kind of the result's throughput interval; None when it states none."""
    interval = doc["measurement"].get("throughput_ci") or {}
    if "lo_inferences_per_s" not in interval:
        return None
    return interval.get("kind", WITHIN_RUN)  # results before kinds were named had only within-run ones


def interval_label(doc: dict) -> str | None:
    """How a table names the interval: "within-run" or "across 3 runs"."""
    kind = throughput_interval_kind(doc)
    if kind == ACROSS_RUNS:
        return f"across {doc['measurement']['throughput_ci']['runs']} runs"
    return kind


def percentile_interval_ms(doc: dict, percentile: float) -> tuple[float, float, str] | None:
    """(lo, hi, kind) of the judged latency's `percentile` in ms at 95%: the
    result's stated interval where it states that percentile (across runs
    when repeated), else the within-run order-statistics interval read off
    its histogram; None when the samples cannot bound it on both sides."""
    from infermeter.result import Result

    result = Result(doc)  # only read, so no copy
    summary = doc["latency"].get(result.judged) or {}
    key = f"p{percentile:g}".replace(".", "_") + "_ns"  # the engine's names: p99_9_ns
    stated = (summary.get("intervals") or {}).get(key) if key in _native.PERCENTILE_KEYS else None
    if stated:
        return stated[0] / 1e6, stated[1] / 1e6, summary.get("intervals_kind", WITHIN_RUN)
    histogram = result.judged_histogram
    if histogram is None:
        return None
    ranks = _native.percentile_rank_interval(histogram.get_total_count(), percentile / 100)
    if ranks is None:
        return None
    n = histogram.get_total_count()
    lo, hi = (histogram.get_value_at_percentile(100.0 * rank / n) / 1e6 for rank in ranks)
    return lo, hi, WITHIN_RUN


def straddles(interval: tuple[float, float, str] | None, limit: float) -> bool:
    """Whether the limit lies inside the interval: the data cannot tell on which side the figure is."""
    return interval is not None and not math.isnan(limit) and interval[0] <= limit <= interval[1]
