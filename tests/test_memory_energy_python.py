"""Memory and energy per configuration, from real CPU sweeps: the catalog's
memory, recommend leaving out what does not fit, the frame's columns,
compare and the report's figures.

On a CPU machine a run measures its host peak RSS and the static bound, and
neither device memory nor (without RAPL) energy. Where a test needs a device
peak or an energy reading, it writes stated values into a real result's
`memory` or `energy` section: test data for recommend and the report, not a
measurement. Results "from before memory was measured" are real results with
those sections taken out, as an older infermeter wrote them."""

import math
from pathlib import Path

import pytest

from infermeter import load_results
from infermeter.analysis import DEFAULT_HEADROOM, configuration_label, recommend
from infermeter.compare import compare
from infermeter.cost import DeviceUse, load_catalog
from infermeter.known_latency import batched_spin_model
from infermeter.report import write_report
from infermeter.report.table import formatted
from infermeter.sweep import load_config, run_sweep
from infermeter.sweep.store import ResultsFile
from sweep_helpers import failing_model, write_config, write_records

# The repository's catalog: the installed copy (site-packages) is the one of
# the last install, which may predate the memory fields.
CATALOG = Path(__file__).resolve().parents[1] / "bench_configs" / "instances.yaml"
GIB = 2 ** 30
SLA = "p90<50ms"  # every point of the spin model meets it: what decides is memory, then cost
BATCHES = [1, 4]


def _sweep(folder: Path, instance: str) -> Path:
    """A real CPU sweep: a batch-dynamic model of known latency at BATCHES,
    and one that runs out of memory at batch 4 (as a CUDA kernel reports it)."""
    folder.mkdir()
    batched_spin_model(folder / "bspin.pt", 200_000, 50_000)
    failing_model(folder / "oom.pt", 4, "CUDA out of memory. Tried to allocate 20.00 GiB")
    config = load_config(write_config(folder / "s.yaml", models=[{"name": "bspin.pt"}, {"name": "oom.pt"}],
                                      batch_sizes=BATCHES, warmup=0, duration=0.3, instance=instance))
    assert run_sweep(config, folder / "out", progress=False).statuses == {"ok": 3, "oom": 1}
    return folder / "out"


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    return _sweep(tmp_path_factory.mktemp("c5") / "sweep", "c5.large")


@pytest.fixture(scope="module")
def swept_eia(tmp_path_factory) -> Path:
    """The same sweep priced on a client instance with an Elastic Inference
    accelerator attached (run on the CPU: no EI accelerator here)."""
    return _sweep(tmp_path_factory.mktemp("eia") / "sweep", "c5.large+eia2.medium")


def _edited(results: Path, path: Path, edit) -> Path:
    """A copy of the results with `edit(record)` applied to each measured record."""
    records = ResultsFile(results).records()
    for record in records:
        if record["status"] == "ok":
            edit(record)
    return write_records(path, records)


def _prices(path: Path, **c5_large) -> Path:
    """A price file redefining c5.large (price as shipped) with these fields."""
    fields = ", ".join(f"{k}: {v}" for k, v in c5_large.items())
    path.write_text("instances:\n  c5.large: {accelerator: none, count: 0, price_per_hour: 0.085, region: us-east-1, "
                    f"date: 2024-06-01, source: test{', ' + fields if fields else ''}}}\n")
    return path


def _bspin(frame):
    return frame[frame["model"] == "bspin.pt"].set_index("batch_size")


def _recommendation(results: Path, *prices: Path, **options):
    """recommend over the spin model's points and the OOM point: the failing
    model's batch 1, which ran (a tanh, far cheaper than any spin), is left
    aside so that the spin model's figures decide."""
    frame = load_results(results, prices=prices)
    return recommend(frame[(frame["model"] == "bspin.pt") | (frame["status"] == "oom")], SLA, **options)


# Catalog


def test_the_catalog_gives_every_instance_its_memory():
    catalog = load_catalog(CATALOG)
    for name, entry in catalog.instances.items():
        assert entry.attachable or entry.host_memory_gib, name
        assert entry.count == 0 or entry.accelerator_memory_gib, name
    memory = {name: (e.accelerator_memory_gib, e.host_memory_gib) for name, e in catalog.instances.items()}
    assert memory["c5.large"] == (None, 4) and memory["m5.4xlarge"] == (None, 64)
    assert memory["g4dn.xlarge"] == (16, 16) and memory["g5.xlarge"] == (24, 16) and memory["g6.xlarge"] == (24, 16)
    assert memory["p3.2xlarge"] == (16, 61) and memory["p4d.24xlarge"] == (40, 1152)
    assert memory["p5.48xlarge"] == (80, 2048) and memory["p5e.48xlarge"] == (141, 2048)
    assert memory["inf1.xlarge"] == (8, 8) and memory["inf2.24xlarge"] == (32, 192)
    assert [memory[f"eia2.{size}"] for size in ("medium", "large", "xlarge")] == [(2, None), (4, None), (8, None)]


def test_accelerator_memory_is_that_of_the_accelerators_a_run_held():
    catalog = load_catalog(CATALOG)
    assert catalog.accelerator_memory_gib("p4d.24xlarge", DeviceUse("GPU", 1)) == 40  # one GPU of eight
    assert catalog.accelerator_memory_gib("g5.12xlarge", None) == 4 * 24  # the whole instance
    assert catalog.accelerator_memory_gib("inf1.6xlarge", DeviceUse("NeuronCore", 4)) == 8  # a chip's four cores
    assert catalog.accelerator_memory_gib("inf2.24xlarge", DeviceUse("NeuronCore", 3)) == 3 * 32 / 2
    assert catalog.accelerator_memory_gib("c5.large+eia2.large", None) == 4  # the attached accelerator's
    assert catalog.host_memory_gib("c5.large+eia2.large") == 4  # the client's
    assert catalog.accelerator_memory_gib("c5.large", DeviceUse("GPU", 1)) is None  # no accelerator to fill


def test_a_price_file_without_memory_still_loads(tmp_path):
    old = _prices(tmp_path / "old.yaml")
    entry = load_catalog(old).instances["c5.large"]
    assert entry.host_memory_gib is None and entry.accelerator_memory_gib is None
    assert load_catalog(old).price("c5.large") == 0.085 and load_catalog(old).host_memory_gib("c5.large") is None
    with pytest.raises(ValueError, match=r"instances.c5.large: host_memory_gib: .*greater than 0"):
        load_catalog(_prices(tmp_path / "bad.yaml", host_memory_gib=-4))


# Frame


def test_the_frame_states_memory_and_energy_of_each_point(swept):
    frame = load_results(swept, prices=(CATALOG,))
    points = _bspin(frame)
    for batch in BATCHES:
        row = points.loc[batch]
        memory = row["result"].memory
        assert row["host_peak_mb"] == memory.host_peak_rss / 2 ** 20 > 100  # the whole process: torch is loaded
        assert row["lower_bound_mb"] == memory.lower_bound / 2 ** 20
        assert math.isnan(row["device_peak_mb"]) and not row["on_accelerator"]  # a CPU run
        assert row["host_memory_gib"] == 4 and math.isnan(row["device_memory_gib"])  # c5.large: 4 GiB, no GPU
        energy = row["result"].energy
        reading = energy.gpu or energy.cpu
        if reading is None:  # no NVML, no RAPL
            assert math.isnan(row["joules_per_inference"]) and row["energy_meter"] is None
        else:
            assert row["joules_per_inference"] == reading.joules_per_inference
    oom = frame[frame["status"] == "oom"]
    assert list(oom["batch_size"]) == [4] and oom["host_peak_mb"].isna().all()  # still an OOM point, no peaks


def test_energy_comes_from_the_gpu_where_it_was_read_else_the_cpu(swept, tmp_path):
    def stated(record):  # test data: energy readings of stated values
        batch = record["point"]["batch_size"]
        record["result"]["energy"] |= {
            "cpu": {"joules": 3.0, "mean_watts": 10.0, "joules_per_inference": 0.003, "inferences_per_kwh": 1.2e9,
                    "note": None},
            "gpu": None if batch == 1 else {"joules": 6.0, "mean_watts": 20.0, "joules_per_inference": 0.0005 * batch,
                                            "inferences_per_kwh": 7.2e9 / batch, "note": None}}
    points = _bspin(load_results(_edited(swept, tmp_path / "e.jsonl", stated)))
    assert (points.loc[1, "energy_meter"], points.loc[1, "joules_per_inference"]) == ("CPU", 0.003)
    assert (points.loc[1, "mean_watts"], points.loc[1, "inferences_per_kwh"]) == (10.0, 1.2e9)
    assert (points.loc[4, "energy_meter"], points.loc[4, "joules_per_inference"]) == ("GPU", 0.002)
    assert (points.loc[4, "mean_watts"], points.loc[4, "inferences_per_kwh"]) == (20.0, 1.8e9)


# Recommend


def test_recommend_leaves_out_what_does_not_fit_the_host(swept, tmp_path):
    peak_gib = _bspin(load_results(swept))["host_peak_mb"].max() / 1024
    assert 0.9 * 0.25 < peak_gib < 0.9 * 64  # the whole process, torch loaded: over 230 MiB, under 57 GiB
    small = _recommendation(swept, _prices(tmp_path / "small.yaml", host_memory_gib=0.25))
    assert small.best is None and not small.unchecked
    assert set(small.left_out) == {f"bspin.pt as-exported b{b} 1 thr on c5.large" for b in BATCHES}
    why = small.left_out["bspin.pt as-exported b4 1 thr on c5.large"]
    assert why.startswith("host peak RSS ") and why.endswith(" exceeds 90% of its 256 MiB of host memory")
    text = str(small)
    assert text.startswith(f"no measured point that fits in memory meets {SLA}")
    assert f"left out: bspin.pt as-exported b4 1 thr on c5.large: {why}" in text
    big = _recommendation(swept, _prices(tmp_path / "big.yaml", host_memory_gib=64))
    assert not big.left_out and not big.unchecked and len(big.candidates) == 2
    assert big.best["batch_size"] == 4  # the cheapest per inference
    assert "left out" not in str(big) and "memory check" not in str(big)


def test_the_headroom_decides_a_peak_near_the_limit(swept, tmp_path):
    peak_gib = _bspin(load_results(swept))["host_peak_mb"].max() / 1024
    # Host memory that the largest peak fills to 85%: within 90% of it, beyond 80%. (The other
    # point's peak, in the same process moments apart, is within a few MiB of it.)
    prices = _prices(tmp_path / "p.yaml", host_memory_gib=round(peak_gib / 0.85, 6))
    assert DEFAULT_HEADROOM == 0.1 and not _recommendation(swept, prices).left_out
    strict = _recommendation(swept, prices, headroom=0.2)
    assert set(strict.left_out) == {f"bspin.pt as-exported b{b} 1 thr on c5.large" for b in BATCHES}
    assert all(" exceeds 80% of its " in why for why in strict.left_out.values())
    assert not _recommendation(swept, prices, headroom=0).left_out
    for bad in (1, 1.5, -0.1):
        with pytest.raises(ValueError, match="headroom"):
            _recommendation(swept, prices, headroom=bad)


def test_recommend_leaves_out_a_device_peak_over_the_accelerators_memory(swept_eia, tmp_path):
    def stated(record):  # test data: a device peak of 3.1 GiB at batch 4, 1.5 GiB below it
        big = record["point"]["batch_size"] == 4
        record["result"]["memory"] |= {"device_process_peak_bytes": int((3.1 if big else 1.5) * GIB)}
        record["result"]["memory"].pop("device_process_peak_unavailable")

    results = _edited(swept_eia, tmp_path / "d.jsonl", stated)
    frame = load_results(results, prices=(CATALOG,))
    assert set(frame["device_memory_gib"].dropna()) == {2} and set(frame["host_memory_gib"].dropna()) == {4}
    rec = _recommendation(results, CATALOG)
    label = "bspin.pt as-exported b4 1 thr on c5.large+eia2.medium"
    assert list(rec.left_out) == [label]
    assert rec.left_out[label] == "device peak 3.1 GiB exceeds 90% of its 2 GiB of accelerator memory"
    assert f"left out: {label}: device peak 3.1 GiB exceeds 90% of its 2 GiB" in str(rec)
    assert (rec.best["model"], rec.best["batch_size"]) == ("bspin.pt", 1)  # fits: 1.5 GiB is within 1.8
    assert label not in set(rec.candidates.apply(configuration_label, axis=1))
    assert _recommendation(results, CATALOG, headroom=0.3).best is None  # 1.5 GiB is over 70% of 2 GiB


def test_memory_that_is_not_known_keeps_the_configuration_and_says_so(swept, tmp_path):
    def older(record):  # as an infermeter from before memory and energy were measured wrote it
        del record["result"]["memory"], record["result"]["energy"]

    before = _recommendation(_edited(swept, tmp_path / "o.jsonl", older), CATALOG)
    assert not before.left_out and len(before.candidates) == 2 and before.best["batch_size"] == 4
    assert set(before.unchecked.values()) == {"host peak RSS not measured: its results predate memory measurement"}
    assert ("memory check could not be made for 2 configuration(s), kept: host peak RSS not measured: its results "
            "predate memory measurement (bspin.pt as-exported b1 1 thr on c5.large, ") in str(before)
    no_memory = _recommendation(swept, _prices(tmp_path / "old.yaml"))
    assert len(no_memory.candidates) == 2 and not no_memory.left_out
    assert set(no_memory.unchecked.values()) == {"the price catalog gives no host memory for c5.large"}


# Compare and report


def test_compare_shows_memory_and_energy_side_by_side(swept, swept_eia, tmp_path):
    def stated(record):  # test data: a GPU energy reading
        record["result"]["energy"]["gpu"] = {"joules": 1.0, "mean_watts": 50.0, "joules_per_inference": 0.25,
                                             "inferences_per_kwh": 1.44e7, "note": None}

    table = compare(load_results(swept), load_results(_edited(swept_eia, tmp_path / "b.jsonl", stated)))
    assert len(table) == 3
    for column in ("host peak MiB A", "host peak MiB B", "J/inference B"):
        assert column in table
    assert "device peak MiB A" not in table  # nothing measured on either side
    a, b = load_results(swept).set_index(["model", "batch_size"]), table.set_index(["model", "batch"])
    assert b.loc[("bspin.pt", 4), "host peak MiB A"] == a.loc[("bspin.pt", 4), "host_peak_mb"]
    assert set(table["J/inference B"]) == {0.25}
    shown = formatted(table)
    assert shown["host peak MiB A"].str.fullmatch(r"\d+\.\d").all() and set(shown["J/inference B"]) == {"0.25"}


def test_report_draws_memory_and_energy_against_batch_size(swept, tmp_path):
    frame = load_results(swept)
    report = write_report(frame, tmp_path / "plain")
    names = {p.name for p in report.figures}
    assert "memory_vs_batch.png" in names
    assert (tmp_path / "plain" / "memory_vs_batch.png").read_bytes().startswith(b"\x89PNG")
    assert "host peak MiB" in report.terminal.splitlines()[0]
    assert "host peak MiB" in (tmp_path / "plain" / "summary.csv").read_text().splitlines()[0]
    if frame["joules_per_inference"].isna().all():  # no NVML, no RAPL here
        assert "energy_vs_batch.png" not in names
        assert "No figure of energy per inference against batch size: " in report.terminal

    def stated(record):  # test data: CPU energy readings
        record["result"]["energy"]["cpu"] = {"joules": 2.0, "mean_watts": 6.0, "joules_per_inference": 0.0004,
                                             "inferences_per_kwh": 9e9, "note": None}

    energy = write_report(load_results(_edited(swept, tmp_path / "e.jsonl", stated)), tmp_path / "energy")
    assert "energy_vs_batch.png" in {p.name for p in energy.figures}
    assert "Energy per inference against batch size" in (tmp_path / "energy" / "report.html").read_text()
    assert "No figure of energy" not in energy.terminal


def test_report_of_results_without_memory_or_energy(swept, tmp_path):
    def older(record):
        del record["result"]["memory"], record["result"]["energy"]

    report = write_report(load_results(_edited(swept, tmp_path / "o.jsonl", older)), tmp_path / "older")
    names = {p.name for p in report.figures}
    assert "throughput_vs_batch.png" in names and not names & {"memory_vs_batch.png", "energy_vs_batch.png"}
    assert "No figure of peak memory against batch size: these results predate memory measurement." in report.terminal
    assert "No figure of energy per inference against batch size: these results predate energy" in report.terminal
    assert "host peak MiB" not in report.terminal and "J/inference" not in report.terminal
