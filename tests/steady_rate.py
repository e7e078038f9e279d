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


# The most the harness may add to each request cycle of a closed loop: the
# loop's own step between requests, which no latency records, and the
# scheduler's share of it on a shared 2-core machine. CI measured 5 us.
HARNESS_NS = 10_000


def holds_known_rate(result: Result, service_ns: float, threads: int) -> bool:
    """Whether the steady rate of `threads` clients of an op taking
    `service_ns` is what it must be: no more than the op allows, and no less
    than the op plus the harness's step allows, each within a window's
    resolution."""
    slack = window_resolution(result, threads)
    return threads * 1e9 / (service_ns + HARNESS_NS) - slack <= steady_rate(result) <= threads * 1e9 / service_ns + slack
