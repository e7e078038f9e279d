"""A closed loop's rate in its typical completion window, for holding a model
of known latency to its figure on a shared machine."""

from __future__ import annotations

import statistics

from infermeter import Result


def steady_rate(result: Result) -> float:
    """Requests per second in the median whole window (the last is cut short
    by the stop). A stall of the machine spoils only the windows it falls in,
    where it moves the whole run's rate; so this rate, unlike that one, shows
    the harness's own cost without the neighbours'."""
    return statistics.median(result.completions[:-1]) / result.window_s


def window_resolution(result: Result, threads: int) -> float:
    """The rate one window can resolve: each client's count in a window is
    off by up to one request, by where its requests fall on the edges."""
    return threads / result.window_s
