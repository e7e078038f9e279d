"""The engine's histogram must agree exactly with Python's hdrhistogram. The
engine's Histogram is driven through tests/cpp/histogram_tool, a test-only
program, since the production extension carries no test hooks."""

import json
import random

import pytest
from hdrh.histogram import HdrHistogram

from cpp_build import build_cpp_target, run

PERCENTILES = [0.0, 1.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0]
HIGHEST = 3_600_000_000_000


@pytest.fixture(scope="module")
def histogram_tool():
    return build_cpp_target("histogram_tool")


def engine_summary(tool, values, percentiles=PERCENTILES):
    """The engine histogram's statistics and encoding for `values`."""
    # repr gives the shortest text that parses back (strtod) to the same double.
    result = run([str(tool), *map(repr, percentiles)], timeout=30, stdin="\n".join(map(str, values)))
    assert result.returncode == 0, f"histogram_tool failed:\n{result.stderr}"
    return json.loads(result.stdout)


def reference(values):
    h = HdrHistogram(1, HIGHEST, 3)
    for v in values:
        assert h.record_value(v)
    return h


def random_latencies(seed, n):
    rng = random.Random(seed)
    # Log-normal around a millisecond with a heavy tail: what latencies look like.
    return [min(HIGHEST, max(1, int(rng.lognormvariate(13.8, 1.2)))) for _ in range(n)]


def adversarial():
    edges = []
    for shift in range(0, 41):
        p = 1 << shift
        edges += [p - 1, p, p + 1]
    return [v for v in edges if 0 <= v <= HIGHEST] + [0, 1, 2047, 2048, 2049, 4095, 4096, HIGHEST, HIGHEST - 1] * 3


@pytest.mark.parametrize("values", [
    random_latencies(1, 20_000),
    random_latencies(2, 7),
    adversarial(),
    [123_456] * 1000,
    [1],
], ids=["lognormal", "few", "bucket-edges", "constant", "single"])
def test_statistics_match_hdrhistogram(histogram_tool, values):
    ref = reference(values)
    ours = engine_summary(histogram_tool, values)
    assert ours["count"] == ref.get_total_count() == len(values)
    assert ours["min"] == ref.get_min_value()
    assert ours["max"] == ref.get_max_value()
    assert ours["mean"] == pytest.approx(ref.get_mean_value(), rel=1e-12)
    assert ours["stddev"] == pytest.approx(ref.get_stddev(), rel=1e-9)
    assert ours["percentiles"] == [ref.get_value_at_percentile(p) for p in PERCENTILES]
    assert ours["saturated"] == 0


@pytest.mark.parametrize("values", [random_latencies(3, 5000), adversarial(), []], ids=["lognormal", "edges", "empty"])
def test_encoding_decodes_to_the_same_counts(histogram_tool, values):
    decoded = HdrHistogram.decode(engine_summary(histogram_tool, values)["encoded"])
    ref = reference(values)
    assert decoded.get_total_count() == len(values)
    assert list(decoded.counts[: ref.counts_len]) == list(ref.counts[: ref.counts_len])
    assert decoded.get_max_value() == ref.get_max_value()
    assert decoded.get_min_value() == ref.get_min_value()


def test_encoded_histograms_merge_in_python(histogram_tool):
    a, b = random_latencies(4, 3000), random_latencies(5, 4000)
    merged = HdrHistogram.decode(engine_summary(histogram_tool, a)["encoded"])
    merged.add(HdrHistogram.decode(engine_summary(histogram_tool, b)["encoded"]))
    ref = reference(a + b)
    assert merged.get_total_count() == 7000
    assert [merged.get_value_at_percentile(p) for p in PERCENTILES] == \
        [ref.get_value_at_percentile(p) for p in PERCENTILES]


def test_values_beyond_an_hour_are_clamped_and_counted(histogram_tool):
    ours = engine_summary(histogram_tool, [5, HIGHEST * 10], [100.0])
    assert ours["count"] == 2
    assert ours["saturated"] == 1
    assert ours["max"] == reference([HIGHEST]).get_max_value()
    assert ours["percentiles"] == [reference([5, HIGHEST]).get_value_at_percentile(100.0)]
