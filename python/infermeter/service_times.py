"""Service times for `infermeter predict`: how long one batch takes, by the
size it is computed at, read from closed-loop results (a closed-loop run at
batch b with N threads measures one batch of b while N run side by side: the
service time an instance sees when N instances serve a batcher), or given
directly for tests and what-ifs."""

from __future__ import annotations

import bisect
import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from infermeter.result import Result


class _Empirical:
    """A measured distribution of service times (s): distinct values and
    their counts, read by inverse CDF."""

    def __init__(self, values: np.ndarray, counts: np.ndarray):
        order = np.argsort(values, kind="stable")
        self.values = np.asarray(values, dtype=float)[order]
        self.cumulative = np.cumsum(np.asarray(counts, dtype=float)[order])

    def quantile(self, u: np.ndarray) -> np.ndarray:
        # The smallest value whose cumulative count exceeds u x total.
        index = np.searchsorted(self.cumulative, np.asarray(u) * self.cumulative[-1], side="right")
        return self.values[np.minimum(index, len(self.values) - 1)]

    @staticmethod
    def pooled(parts: list[_Empirical]) -> _Empirical:
        """Several measurements of one size as one distribution."""
        counts = [np.diff(p.cumulative, prepend=0.0) for p in parts]
        return _Empirical(np.concatenate([p.values for p in parts]), np.concatenate(counts))


class ServiceTimes:
    """How long one batch takes, by the size it is computed at, as a
    quantile function: `quantile(size, u)` in seconds for uniform u in [0, 1).

    Built from measurements (`service_times_from_results`, `from_samples`):
    a measured size is its empirical distribution; a size between two
    measured ones is, at each quantile, the linear interpolation of theirs
    in batch size; a size below the smallest measured takes the smallest's;
    a size above the largest is refused (extrapolation is not a
    measurement). Or from a formula (`deterministic`), for any size.
    `instances`: how many ran side by side while it was measured."""

    def __init__(self, instances: int, *, measured: dict[int, _Empirical] | None = None,
                 formula: Callable[[int], float] | None = None, source: dict | None = None):
        self.instances = _whole("instances", instances)
        self._measured = dict(sorted(measured.items())) if measured else None
        self._formula = formula
        self.source = source or {}  # model, runner, device of a measurement

    @classmethod
    def from_samples(cls, samples: dict[int, Iterable[float]], *, instances: int) -> ServiceTimes:
        """Service times in seconds by batch size, e.g. {1: [...], 8: [...]}."""
        if not samples:
            raise ValueError("from_samples needs samples of at least one batch size")
        measured = {}
        for size, values in samples.items():
            size = _whole("a sample's batch size", size)
            values = np.asarray(values, dtype=float).ravel()
            if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
                raise ValueError(f"the samples of batch size {size} must be positive, finite seconds, at least one")
            measured[size] = _Empirical(values, np.ones(values.size))
        return cls(instances, measured=measured)

    @classmethod
    def deterministic(cls, seconds: Callable[[int], float], *, instances: int) -> ServiceTimes:
        """Every batch of a size takes exactly `seconds(size)`."""
        if not callable(seconds):
            raise ValueError("deterministic takes a function of the batch size giving seconds, e.g. "
                             "lambda size: 0.001 + 0.0001 * size")
        return cls(instances, formula=seconds)

    @property
    def sizes(self) -> tuple[int, ...] | None:
        """The measured batch sizes; None for a formula (every size)."""
        return tuple(self._measured) if self._measured else None

    def check_covers(self, size: int) -> None:
        """ValueError when `size` is above every measured size."""
        sizes = self.sizes
        if sizes and size > sizes[-1]:
            raise ValueError(f"batch size {size} is above the largest measured ({sizes[-1]}; measured: "
                             f"{', '.join(map(str, sizes))}): extrapolation is not a measurement; measure batch "
                             f"{size} or lower max_batch / capture_batches")

    def quantile(self, size: int, u) -> np.ndarray:
        """Seconds at quantiles `u` for a batch computed at `size`."""
        u = np.atleast_1d(np.asarray(u, dtype=float))
        if self._formula is not None:
            seconds = self._formula(size)
            if not (isinstance(seconds, (int, float, np.floating)) and math.isfinite(seconds) and seconds > 0):
                raise ValueError(f"the service time of batch size {size} must be positive, finite seconds, "
                                 f"got {seconds!r}")
            return np.full(u.shape, float(seconds))
        self.check_covers(size)
        sizes = self.sizes
        if size <= sizes[0] or size in self._measured:
            return self._measured[max(size, sizes[0])].quantile(u)
        above = bisect.bisect_left(sizes, size)
        lo, hi = sizes[above - 1], sizes[above]
        share = (size - lo) / (hi - lo)
        return (1 - share) * self._measured[lo].quantile(u) + share * self._measured[hi].quantile(u)

    def unmeasured(self, sizes: Iterable[int]) -> list[int]:
        """Which of `sizes` have no measurement of their own."""
        return [] if self._measured is None else sorted(s for s in set(sizes) if s not in self._measured)

    def __repr__(self) -> str:
        where = ", ".join(f"{k} {v}" for k, v in self.source.items())
        what = f"sizes {', '.join(map(str, self.sizes))}" if self._measured else "a formula"
        return f"ServiceTimes({what}, {self.instances} instance(s){', ' + where if where else ''})"



def service_times_from_results(results) -> ServiceTimes:
    """Service times from closed-loop results of one model, runner, device
    and thread count: Result objects, result .json files, or sweep results
    (a results.jsonl or its folder; of a sweep, its closed-loop points of
    status ok). Each batch size's distribution is its host-latency
    histogram; two measurements of one size are pooled."""
    measured: dict[int, list[_Empirical]] = {}
    facts: dict[str, set] = {"model path": set(), "runner": set(), "device": set(), "threads": set()}
    for label, result in _closed_loop_results(results):
        histogram = result.histogram
        if histogram is None:
            raise ValueError(f"{label} measured no request ({result.outcome}): it holds no service times")
        for name, value in (("model path", result.model.get("path")), ("runner", result.runner),
                            ("device", result.config.get("device")), ("threads", result.config["threads"])):
            facts[name].add(value)
        values, counts = zip(*((histogram.get_lowest_equivalent_value(i.value_iterated_to) / 2
                                + histogram.get_highest_equivalent_value(i.value_iterated_to) / 2,
                                i.count_added_in_this_iter_step) for i in histogram.get_recorded_iterator()))
        measured.setdefault(result.config["batch_size"], []).append(
            _Empirical(np.asarray(values) / 1e9, np.asarray(counts)))
    if not measured:
        raise ValueError(f"no closed-loop results in {results}: predict needs service times measured in a closed "
                         "loop (load closed), one run per batch size")
    mixed = {name: values for name, values in facts.items() if len(values) > 1}
    if mixed:
        raise ValueError("the results mix " + "; ".join(f"{name} {', '.join(sorted(map(str, v)))}"
                                                       for name, v in mixed.items()) +
                         ": service times must come from one model, runner, device and thread count")
    return ServiceTimes(facts["threads"].pop(), measured={s: _Empirical.pooled(p) for s, p in measured.items()},
                        source={"model": facts["model path"].pop(), "runner": facts["runner"].pop(),
                                "device": facts["device"].pop()})


def _closed_loop_results(results) -> Iterable[tuple[str, Result]]:
    """(label, result) of each closed-loop result given. A result given on
    its own must be closed-loop; a sweep's open-loop and rate-search points
    are passed over (they measured response time, not service time)."""
    from infermeter.sweep.store import read_results, results_path

    given = [results] if isinstance(results, (str, Path, Result)) else list(results)
    for item in given:
        if isinstance(item, Result):
            label, found, own = repr(item), [item], True
        else:
            path = Path(item)
            if path.is_dir() or path.suffix == ".jsonl":
                file = results_path(path)
                if not file.is_file():
                    raise ValueError(f"no sweep results at {item} (looked for {file})")
                records = [found.record for found in read_results([file]).records
                           if found.record["status"] == "ok" and found.record["result"]]
                label, found, own = str(file), [Result(r["result"]) for r in records], False
            elif path.is_file():
                label, found, own = str(path), [Result.load(path)], True
            else:
                raise ValueError(f"no result file or sweep folder at {item}")
        for result in found:
            if result.config.get("load") == "closed":
                yield label, result
            elif own:
                raise ValueError(f"{label} is a {result.config.get('load')}-loop run: service times come from "
                                 "closed-loop runs (load closed)")


def _whole(name: str, value, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
    return int(value)
