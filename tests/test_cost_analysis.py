"""Cost, comparison, knee and recommendation against figures computed by hand
on constructed results."""

import math

import pytest

from infermeter import load_results
from infermeter.analysis import knee_batch, knees, recommend
from infermeter.sla import parse_sla
from infermeter.cli import main
from infermeter.compare import ONE_RUN_EACH, compare
from infermeter.cost import cost_per_inferences, cost_per_million, load_catalog
from sweep_helpers import synthetic_record, write_records

G4DN, G5 = 0.526, 1.006  # $/hour in the shipped catalog
# (batch, inferences/s, typical latency ms) per instance
G4DN_POINTS = [(1, 200, 5.0), (8, 900, 9.0), (32, 1500, 21.0)]
G5_POINTS = [(1, 300, 3.0), (8, 2000, 4.0), (32, 3200, 10.0)]


def _latencies(typical):
    # 100 requests: 85 at the typical latency, 15 at 1.2x, so p90 is 1.2x typical.
    return [typical] * 85 + [typical * 1.2] * 15


def _results(path, instance, points):
    return write_records(path, [synthetic_record("bert", b, 1, instance, thr, _latencies(lat))
                                for b, thr, lat in points])


@pytest.fixture
def two_instances(tmp_path):
    return _results(tmp_path / "g4dn.jsonl", "g4dn.xlarge", G4DN_POINTS), \
        _results(tmp_path / "g5.jsonl", "g5.xlarge", G5_POINTS)


def test_cost_formulas():
    assert cost_per_million(1000, 3.6) == pytest.approx(1.0)  # $3.6/h = $0.001/s; 1000/s -> $1e-6 each
    assert cost_per_million(1500, G4DN) == pytest.approx(G4DN / (1500 * 3600) * 1e6)
    assert cost_per_inferences(0.015, 0.205, 1000) == pytest.approx(0.205 / 3600 * 0.015 * 1000)
    with pytest.raises(ValueError, match="throughput must be positive"):
        cost_per_million(0, 1.0)


def test_catalog_sums_attached_accelerators_and_takes_overrides(tmp_path):
    catalog = load_catalog()
    assert catalog.price("c5.large+eia2.medium") == pytest.approx(0.085 + 0.12)
    for name in ("g4dn.xlarge", "g4dn.4xlarge", "g5.xlarge", "g5.4xlarge", "p3.2xlarge", "inf1.xlarge",
                 "inf1.6xlarge", "c5.xlarge", "m5.xlarge", "inf2.xlarge", "g6.xlarge", "p4d.24xlarge", "p5.48xlarge"):
        entry = catalog.instances[name]
        assert entry.price_per_hour > 0 and entry.source.startswith("https://") and entry.region == "us-east-1"
    with pytest.raises(ValueError, match="exactly one client instance"):
        catalog.price("eia2.large")
    mine = tmp_path / "mine.yaml"
    mine.write_text("instances:\n  g5.xlarge: {accelerator: A10G, count: 1, price_per_hour: 0.5, region: x, "
                    "date: 2026-11-01, source: my contract}\n  lab-box: {accelerator: RTX, count: 2, "
                    "price_per_hour: 0.3, region: lab, date: 2026-11-01, source: amortised}\n")
    assert load_catalog(mine).price("g5.xlarge") == 0.5 and load_catalog(mine).price("lab-box") == 0.3
    mine.write_text("instances:\n  bad: {accelerator: A, count: 1, price_per_hour: -1, region: x, "
                    "date: 2026-11-01, source: s}\n")
    with pytest.raises(ValueError, match=r"mine.yaml: instances.bad: price_per_hour: .*greater than 0"):
        load_catalog(mine)


def test_results_frame_prices_each_point(two_instances):
    frame = load_results(*two_instances)
    assert len(frame) == 6 and set(frame["instance"]) == {"g4dn.xlarge", "g5.xlarge"}
    row = frame[(frame["instance"] == "g5.xlarge") & (frame["batch_size"] == 32)].iloc[0]
    assert row["cost_per_million"] == pytest.approx(G5 / (3200 * 3600) * 1e6)
    assert row["p90_ms"] == pytest.approx(12.0, rel=1e-3) and row["p50_ms"] == pytest.approx(10.0, rel=1e-3)


def test_compare_gives_cost_benefit_ratio(two_instances, capsys):
    table = compare(load_results(two_instances[0]), load_results(two_instances[1]))
    assert list(table["batch"]) == [1, 8, 32]
    for (_, a_thr, _), (_, b_thr, _), ratio in zip(G4DN_POINTS, G5_POINTS, table["cost B/A"]):
        assert ratio == pytest.approx((G5 / b_thr) / (G4DN / a_thr))
    assert main(["compare", str(two_instances[0]), str(two_instances[1])]) == 0
    assert "cost B/A" in capsys.readouterr().out


def test_knee_on_a_saturating_curve():
    assert knee_batch([1, 2, 4, 8, 16, 32], [100, 190, 350, 600, 640, 650]) == 8
    assert knee_batch([1, 2], [100, 190]) is None
    assert knee_batch([1, 2, 4, 8], [100, 200, 400, 800]) is None  # still rising linearly: no knee yet


def test_knees_per_series(tmp_path):
    path = write_records(tmp_path / "r.jsonl", [synthetic_record("m", b, 1, "g5.xlarge", thr, [1.0])
                                               for b, thr in zip([1, 2, 4, 8, 16, 32], [100, 190, 350, 600, 640, 650])])
    assert list(knees(load_results(path)).values()) == [8]


def test_sla_parsing():
    assert parse_sla("p90<15ms") == parse_sla(" p90 < 15 ms ")
    sla = parse_sla("p99.9<=200us")
    assert sla.percentile == 99.9 and sla.limit_ms == pytest.approx(0.2) and sla.inclusive
    for bad in ("p100<1ms", "p90<15", "90<15ms", "p90>15ms"):
        with pytest.raises(ValueError):
            parse_sla(bad)


def test_recommendation_is_the_cheapest_point_within_the_sla(two_instances, capsys):
    frame = load_results(*two_instances)
    rec = recommend(frame, "p90<15ms", target_load=10_000)
    # g4dn at batch 32 would be cheaper still, but its p90 (25.2 ms) breaks the SLA.
    assert (rec.best["instance"], rec.best["batch_size"]) == ("g5.xlarge", 32)
    assert rec.best["sla_latency_ms"] == pytest.approx(12.0, rel=1e-3)
    assert rec.servers() == math.ceil(10_000 / 3200) == 4
    assert "4 server(s), $4.02/hour" in str(rec)
    tight = recommend(frame, "p90<8ms")
    assert (tight.best["instance"], tight.best["batch_size"]) == ("g5.xlarge", 8)
    assert list(tight.candidates["batch_size"]) == [8, 1, 1]  # g5 b8, then g4dn b1 ($0.73/1M), g5 b1 ($0.93/1M)
    assert recommend(frame, "p90<8ms", min_throughput=2500).best is None
    assert main(["recommend", *map(str, two_instances), "--sla", "p90<1ms"]) == 0
    assert "no measured point meets p90<1ms" in capsys.readouterr().out
    assert main(["recommend", *map(str, two_instances)]) == 2
    assert "give --sla" in capsys.readouterr().err


def test_recommend_takes_the_sweeps_sla(tmp_path, capsys):
    path = write_records(tmp_path / "r.jsonl", [synthetic_record("gpt", 1, 1, "g4dn.xlarge", 120, _latencies(8.0),
                                                                 sla="p90<15ms")])
    assert main(["recommend", str(path)]) == 0
    assert "cheapest point meeting p90<15ms: g4dn.xlarge gpt" in capsys.readouterr().out


P4D, G5_12X, INF1_6X, INF2_24X = 21.96, 5.672, 1.18, 6.4906  # $/hour in the shipped catalog


def _ran(record, device="cpu", backend=None, facts=None, settings=None):
    """`record` as run on `device`, compiled for `backend` with its facts."""
    record["result"]["config"]["device"] = device
    if backend:
        record["result"]["model"]["export"] |= {"backend": backend, "backend_facts": facts or {}}
        record["sweep"]["settings"] |= {"backend": backend, **(settings or {})}
    return record


@pytest.fixture
def shared_instances(tmp_path):
    return write_records(tmp_path / "r.jsonl", [
        _ran(synthetic_record("bert", 1, 1, "p4d.24xlarge", 2000, [4.0]), "cuda:0"),
        _ran(synthetic_record("bert", 2, 1, "g5.12xlarge", 1000, [4.0]), "cuda:3"),
        _ran(synthetic_record("bert", 4, 1, "g5.xlarge", 1000, [4.0]), "cuda"),
        _ran(synthetic_record("bert", 8, 1, "inf1.6xlarge", 800, [4.0]), backend="neuron",
             facts={"group_sizes": "1,1,1,1"}),
        _ran(synthetic_record("bert", 16, 1, "inf2.24xlarge", 900, [4.0]), backend="neuronx",
             settings={"neuronx": {"visible_cores": "0-2,5"}}),
        _ran(synthetic_record("bert", 32, 4, "c5.xlarge", 300, [4.0])),
        _ran(synthetic_record("bert", 64, 1, "c5.large+eia2.medium", 100, [4.0]), backend="eia"),
    ])


def test_a_run_pays_for_the_share_of_the_instance_it_held(shared_instances):
    by_batch = load_results(shared_instances).set_index("batch_size")
    expected = {1: ("1 of 8 GPUs", P4D / 8, 2000), 2: ("1 of 4 GPUs", G5_12X / 4, 1000),
                4: ("whole instance", G5, 1000),  # its one GPU is the whole instance
                8: ("4 of 16 NeuronCores", INF1_6X * 4 / 16, 800),  # group sizes 1,1,1,1 on 4 chips of 4 cores
                16: ("4 of 12 NeuronCores", INF2_24X * 4 / 12, 900),  # cores 0, 1, 2 and 5 of 6 chips of 2
                32: ("whole instance", 0.17, 300),  # the CPU's intra-op threads span every core
                64: ("whole instance", 0.085 + 0.12, 100)}
    for batch, (priced_as, hourly, throughput) in expected.items():
        row = by_batch.loc[batch]
        assert row["priced_as"] == priced_as
        assert row["share_price_per_hour"] == pytest.approx(hourly)
        assert row["cost_per_million"] == pytest.approx(hourly / (throughput * 3600) * 1e6)
    whole = load_results(shared_instances, pricing="instance").set_index("batch_size")
    assert set(whole["priced_as"]) == {"whole instance"}
    assert whole.loc[1, "cost_per_million"] == pytest.approx(P4D / (2000 * 3600) * 1e6)
    assert whole.loc[1, "cost_per_million"] == pytest.approx(8 * by_batch.loc[1, "cost_per_million"])
    with pytest.raises(ValueError, match="pricing must be one of share, instance, got 'gpu'"):
        load_results(shared_instances, pricing="gpu")


def test_compare_and_recommend_price_the_share(tmp_path):
    a = write_records(tmp_path / "a.jsonl", [synthetic_record("bert", 8, 1, "g5.xlarge", 1000, _latencies(4.0))])
    b = write_records(tmp_path / "b.jsonl", [_ran(synthetic_record("bert", 8, 1, "p4d.24xlarge", 4000,
                                                                   _latencies(2.0)), "cuda:0")])
    row = compare(load_results(a), load_results(b)).iloc[0]
    assert (row["priced as A"], row["priced as B"]) == ("whole instance", "1 of 8 GPUs")
    assert row["cost B/A"] == pytest.approx((P4D / 8 / 4000) / (G5 / 1000))  # 0.68, not 5.5 for the whole p4d
    rec = recommend(load_results(a, b), "p90<5ms", target_load=8000)
    assert rec.best["instance"] == "p4d.24xlarge" and (rec.servers(), rec.instances()) == (2, 1)
    assert "2 x (1 of 8 GPUs) on 1 p4d.24xlarge, $5.49/hour for the devices used ($21.96/hour for 1 whole" in str(rec)
    assert "p90 2.40 ms" in str(rec)
    whole = recommend(load_results(a, b, pricing="instance"), "p90<5ms")
    assert whole.best["instance"] == "g5.xlarge"  # a whole p4d costs more per inference than a g5.xlarge


def _with_interval(record, lo, hi):
    """`record` as if its run had been long enough to state a 95% throughput interval of [lo, hi]."""
    record["result"]["measurement"]["throughput_ci"] = {"lo_inferences_per_s": lo, "hi_inferences_per_s": hi,
                                                        "half_width_rel": (hi - lo) / (hi + lo), "method": "given"}
    return record


def test_compare_says_when_throughputs_are_within_noise(tmp_path, capsys):
    import json

    from infermeter import _native

    a = [_with_interval(synthetic_record("bert", 1, 1, "g4dn.xlarge", 100, _latencies(5.0)), 95, 105),
         _with_interval(synthetic_record("bert", 8, 1, "g4dn.xlarge", 900, _latencies(9.0)), 880, 920)]
    b = [_with_interval(synthetic_record("bert", 1, 1, "g5.xlarge", 104, _latencies(3.0)), 100, 110),
         _with_interval(synthetic_record("bert", 8, 1, "g5.xlarge", 1020, _latencies(4.0)), 1000, 1040)]
    # Two runs of A's batch 1, summarised by the engine as `repeat=2` does.
    runs = [synthetic_record("bert", 1, 1, "g4dn.xlarge", thr, _latencies(5.0))["result"] for thr in (96, 104)]
    a[0]["result"]["repeats"] = json.loads(_native.combine_repeats([json.dumps(r) for r in runs],
                                                                   "fresh processes"))["repeats"]
    paths = write_records(tmp_path / "a.jsonl", a), write_records(tmp_path / "b.jsonl", b)
    table = compare(load_results(paths[0]), load_results(paths[1])).set_index("batch")
    # 100-110 overlaps 95-105; 1000 > 920; single runs' intervals say nothing of the next run.
    assert list(table["throughput B vs A"]) == ["within noise" + ONE_RUN_EACH, "B higher" + ONE_RUN_EACH]
    assert list(table["interval A"]) == ["within-run", "within-run"]
    assert (table.loc[8, "inf/s lo B"], table.loc[8, "inf/s hi B"]) == (1000, 1040)
    assert table.loc[1, "run CV A"] == pytest.approx(a[0]["result"]["repeats"]["inferences_per_s"]["cv"])
    assert table.loc[1, "run CV A"] == pytest.approx(math.sqrt(2 * 4 ** 2) / 100)  # stddev of 96, 104 over their mean
    assert math.isnan(table.loc[8, "run CV A"])
    assert "load" not in table  # closed loops only: nothing to tell apart
    assert main(["compare", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 points within noise" in out
    assert "2 verdict(s) rest on within-run intervals" in out


def test_compare_judges_repeated_points_by_their_across_run_intervals(tmp_path, capsys):
    import json

    from infermeter import _native

    def repeated(instance, rates):
        runs = [synthetic_record("bert", 1, 1, instance, rate, _latencies(5.0)) for rate in rates]
        doc = json.loads(_native.combine_repeats([json.dumps(r["result"]) for r in runs], "fresh processes"))
        return runs[0] | {"result": doc}

    # A: 100, 101, 102 (mean 101, interval 101 +- 2.48); B: 110, 111, 112; C: 98, 103, 108 (101-113 overlaps).
    a, b, c = (repeated(i, rates) for i, rates in (("g4dn.xlarge", (100, 101, 102)), ("g5.xlarge", (110, 111, 112)),
                                                    ("g5.xlarge", (98, 103, 108))))
    paths = [write_records(tmp_path / f"{n}.jsonl", [r]) for n, r in (("a", a), ("b", b), ("c", c))]
    higher = compare(load_results(paths[0]), load_results(paths[1]))
    assert list(higher["throughput B vs A"]) == ["B higher"]
    assert list(higher["interval A"]) == ["across 3 runs"]
    assert list(compare(load_results(paths[0]), load_results(paths[2]))["throughput B vs A"]) == ["within noise"]
    assert main(["compare", str(paths[0]), str(paths[1])]) == 0
    assert "rest on within-run intervals" not in capsys.readouterr().out


def test_recommend_warns_that_a_closed_loop_peak_leaves_out_queueing(two_instances):
    frame = load_results(*two_instances)
    tail = recommend(frame, "p90<15ms", target_load=10_000)
    assert tail.best["server_basis"] == "closed-loop peak" and tail.best["server_inferences_per_s"] == 3200
    assert len(tail.warnings()) == 1
    text = str(tail)
    assert "warning: sized from a closed-loop peak" in text and "100% busy" in text and "find_rate: true" in text
    assert recommend(frame, "p50<15ms", target_load=10_000).warnings() == []  # the median is not a tail


def test_points_too_short_for_the_percentile_do_not_meet_the_sla(tmp_path):
    # 40 requests state a p90 (29 needed) but not a p99 (299 needed), however fast they were.
    path = write_records(tmp_path / "r.jsonl", [synthetic_record("bert", 1, 1, "g5.xlarge", 300, [1.0] * 40),
                                               synthetic_record("bert", 8, 1, "g5.xlarge", 900, [2.0] * 400)])
    frame = load_results(path)
    assert math.isnan(frame.set_index("batch_size").loc[1, "p99_ms"])
    rec = recommend(frame, "p99<10ms")
    assert rec.unstated == 1 and list(rec.candidates["batch_size"]) == [8]
    assert "1 point(s) had too few samples to state p99" in str(rec)
    assert recommend(frame, "p90<10ms").unstated == 0
