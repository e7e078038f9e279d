"""Durations as people read them: the unit (ns, µs, ms, s) that shows three
significant digits, so a 3 µs request prints as 3.00 µs, not 0.003 ms. The
formatting itself is the engine's (csrc/reporters.cpp), so that the binary,
`Result.summary()` and the reports print a duration alike."""

from __future__ import annotations

import math

# Nanoseconds in each unit the engine writes a duration in.
NS_PER_UNIT = {"ns": 1.0, "µs": 1e3, "ms": 1e6, "s": 1e9}


def duration_unit(ns: float) -> tuple[str, float]:
    """(unit, nanoseconds per unit) of the axis of a plot whose largest value
    is `ns`: the unit format_duration_ns writes `ns` in, so that an axis and
    the tables agree (the engine's choice: the value reads between 1 and 1000
    once rounded to three digits; seconds stay seconds above that)."""
    unit = format_duration_ns(ns).split()[-1]
    return unit, NS_PER_UNIT[unit]


def format_duration_ns(ns: float) -> str:
    """`ns` nanoseconds with three significant digits in the fitting unit:
    999 ns, 3.00 µs, 12.3 ms, 1.50 s."""
    from infermeter._native import format_duration_ns as engine_format

    if ns is None or (isinstance(ns, float) and math.isnan(ns)):
        raise ValueError(f"a duration must be a non-negative number of nanoseconds, got {ns!r}")
    return engine_format(float(ns))


def format_duration_ms(ms: float) -> str:
    """As format_duration_ns, for the millisecond figures of results tables."""
    return format_duration_ns(ms * 1e6)


def format_long_duration(seconds: float) -> str:
    """A wall time as people plan around it, to two significant digits in
    the largest unit it fills: 40 s, 12 min, 3.3 h, 12 days."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{float(f'{seconds / size:.2g}'):g} {unit}"
    return f"{float(f'{seconds:.2g}'):g} s"
