"""A sweep's `repeat` run as rounds (docs/intervals.md): the grid runs
`repeat` times over, each run in a fresh process, so a point's runs lie
apart across the sweep's span; the rounds are kept as ordinary results
folders and combined into the sweep's own, each point one repeated result.
Measured with models of known service time (torch.ops.infermeter.spin)."""

import json

import pytest

from infermeter import load_results
from infermeter.known_latency import spin_model
from infermeter.sweep import execute, load_config, run_sweep
from infermeter.sweep import point as point_module
from infermeter.sweep.grid import expand
from infermeter.sweep.store import ResultsFile
from sweep_helpers import failing_model, write_config

FAST_NS, SLOW_NS = 200_000, 600_000
QUICK = {"warmup": 0.05, "duration": 0.3}
ROUNDS_SAID = "3 rounds of one sweep, interleaved; each run a fresh process"


def _counting_fresh_runs(monkeypatch) -> list:
    """The model path of every run measured in a fresh process, in order."""
    runs, measure = [], point_module.fresh_process.measure

    def counted(path, *args, **kwargs):
        runs.append(path)
        return measure(path, *args, **kwargs)

    monkeypatch.setattr(point_module.fresh_process, "measure", counted)
    return runs


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """Two models swept with repeat 3 (rounds: the default spacing)."""
    folder = tmp_path_factory.mktemp("rounds")
    for name, ns in (("fast.pt", FAST_NS), ("slow.pt", SLOW_NS)):
        spin_model(folder / name, ns)
    config = write_config(folder / "s.yaml", models=[{"name": "fast.pt"}, {"name": "slow.pt"}], repeat=3, **QUICK)
    with pytest.MonkeyPatch.context() as mp:
        fresh_runs = _counting_fresh_runs(mp)
        outcome = run_sweep(load_config(config), folder / "out", progress=False)
    return folder, config, outcome, fresh_runs


def test_each_round_runs_every_point_once_in_a_fresh_process(swept):
    folder, config, outcome, fresh_runs = swept
    assert (outcome.rounds, outcome.total, outcome.statuses) == (3, 6, {"ok": 6})
    assert "3 rounds of 2 points: 6 ok" in str(outcome) and "each point's 3 rounds as one repeated result" in str(outcome)
    keys = [p.key for p in expand(load_config(config))]
    rounds = [ResultsFile(folder / "out" / "rounds" / str(i)).records() for i in (1, 2, 3)]
    for records in rounds:
        assert [r["key"] for r in records] == keys
        # Each round's record is one run, made with repeat 1: an ordinary sweep folder.
        assert all(r["status"] == "ok" and "repeats" not in r["result"] for r in records)
        assert all(r["sweep"]["settings"]["repeat"] == 1 for r in records)
    # Interleaved: every run of a round ends before the next round's first starts.
    for earlier, later in zip(rounds, rounds[1:]):
        assert max(r["finished_at"] for r in earlier) <= min(r["started_at"] for r in later)
    assert len(fresh_runs) == 6 and fresh_runs[0] != fresh_runs[1] and fresh_runs[0] == fresh_runs[2]


def test_the_sweeps_results_are_each_points_rounds_combined(swept):
    folder, config, _, _ = swept
    combined = ResultsFile(folder / "out").records()
    assert [r["key"] for r in combined] == [p.key for p in expand(load_config(config))]
    rounds = [ResultsFile(folder / "out" / "rounds" / str(i)).latest() for i in (1, 2, 3)]
    for record, known_ns in zip(combined, (FAST_NS, SLOW_NS)):
        result = record["result"]
        assert result["repeats"]["isolation"] == ROUNDS_SAID
        assert record["sweep"]["settings"]["repeat"] == 3  # the sweep's own settings, not a round's
        runs = [r[record["key"]]["result"]["measurement"]["inferences_per_s"] for r in rounds]
        assert sorted(run["inferences_per_s"] for run in result["repeats"]["runs"]) == sorted(runs)
        assert result["measurement"]["throughput_ci"]["kind"] == "across-runs"
        # Ground truth: a closed loop of one client completes 1 / service time requests a second, never more.
        assert max(runs) <= 1e9 / known_ns * 1.001
        assert result["latency"]["host"]["p50_ns"] >= known_ns
    frame = load_results(folder / "out")
    assert list(frame["interval"]) == ["across 3 runs", "across 3 runs"]


def test_rounds_and_back_to_back_repeats_never_share_a_folder(swept, tmp_path):
    folder, config, _, _ = swept
    back_to_back = write_config(folder / "b.yaml", models=[{"name": "fast.pt"}, {"name": "slow.pt"}], repeat=3,
                                repeat_spacing="back-to-back", **QUICK)
    with pytest.raises(ValueError, match="whose repeat runs as rounds"):
        run_sweep(load_config(back_to_back), folder / "out", progress=False, resume=True)
    with pytest.raises(ValueError, match="already holds results: pass --resume"):
        run_sweep(load_config(config), folder / "out", progress=False)
    # A folder of results measured without rounds is not overwritten by a rounds sweep's combined file.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "results.jsonl").write_text("")
    with pytest.raises(ValueError, match="measured without rounds"):
        run_sweep(load_config(config), plain, progress=False, resume=True)
    # A changed repeat is a changed config: the rounds' own folders (repeat 1 each) would not show it.
    fewer = write_config(folder / "fewer.yaml", models=[{"name": "fast.pt"}, {"name": "slow.pt"}], repeat=2, **QUICK)
    with pytest.raises(ValueError, match="repeat changed"):
        run_sweep(load_config(fewer), folder / "out", progress=False, resume=True)
    # Resumed with every round done, nothing runs again and the combined file is the same.
    before = (folder / "out" / "results.jsonl").read_text()
    again = run_sweep(load_config(config), folder / "out", progress=False, resume=True)
    assert again.resumed == 6 and not again.statuses
    assert [json.loads(line)["key"] for line in before.splitlines()] == \
        [r["key"] for r in ResultsFile(folder / "out").records()]


def test_an_interrupted_round_keeps_the_rounds_done_and_resumes(tmp_path, monkeypatch):
    spin_model(tmp_path / "fast.pt", FAST_NS)
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "fast.pt"}], repeat=2, **QUICK))
    real, calls = execute.measure_point, []

    def stopped_in_round_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(execute, "measure_point", stopped_in_round_two)
    outcome = run_sweep(config, tmp_path / "out", progress=False)
    assert outcome.interrupted and outcome.statuses == {"ok": 1}
    assert "--resume" in str(outcome) and str(tmp_path / "out" / "rounds") in str(outcome)
    # No combined file from an unfinished set of rounds; the round that finished is kept.
    assert not (tmp_path / "out" / "results.jsonl").exists()
    assert len(ResultsFile(tmp_path / "out" / "rounds" / "1").records()) == 1
    with pytest.raises(ValueError, match="runs as rounds and writes it when the last round ends"):
        load_results(tmp_path / "out")
    with pytest.raises(ValueError, match="--resume"):
        run_sweep(config, tmp_path / "out", progress=False)
    monkeypatch.setattr(execute, "measure_point", real)
    resumed = run_sweep(config, tmp_path / "out", progress=False, resume=True)
    assert resumed.resumed == 1 and resumed.statuses == {"ok": 1} and not resumed.interrupted
    (record,) = ResultsFile(tmp_path / "out").records()
    assert record["result"]["repeats"]["isolation"] == "2 rounds of one sweep, interleaved; each run a fresh process"
    assert len(record["result"]["repeats"]["runs"]) == 2


def test_a_batch_out_of_memory_in_round_one_is_skipped_later_and_stays_oom(tmp_path):
    failing_model(tmp_path / "oom.pt", 2, "CUDA out of memory. Tried to allocate 20.00 GiB")
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "oom.pt"}], batch_sizes=[1, 2, 4],
                                      repeat=2, **QUICK))
    outcome = run_sweep(config, tmp_path / "out", progress=False)
    assert outcome.statuses == {"ok": 2, "oom": 1, "skipped": 3}  # round 2 runs batch 1 alone
    round_two = ResultsFile(tmp_path / "out" / "rounds" / "2").records()
    assert [r["status"] for r in round_two] == ["ok", "skipped", "skipped"]
    combined = ResultsFile(tmp_path / "out").records()
    assert [r["status"] for r in combined] == ["ok", "oom", "skipped"]
    assert "out of memory" in combined[1]["error"] and len(combined[0]["result"]["repeats"]["runs"]) == 2


def test_a_sweep_from_before_rounds_resumes_with_back_to_back_spacing(tmp_path):
    """Its sweep.json has no repeat_spacing (read as the default, rounds): the
    spacing is the folder's shape, which check_spacing guards, not a change."""
    from infermeter.sweep.execute import config_changes

    doc = {"name": "t", "device": "cpu", "repeat": 3, "models": [{"name": "resnet18", "resolution": 32}]}
    before_rounds = load_config(write_config(tmp_path / "old.yaml", **doc)).model_dump(mode="json")
    del before_rounds["repeat_spacing"]
    now = load_config(write_config(tmp_path / "new.yaml", repeat_spacing="back-to-back", **doc))
    assert config_changes(before_rounds, now.model_dump(mode="json")) == []
    assert config_changes(before_rounds, load_config(write_config(tmp_path / "more.yaml", **(doc | {"repeat": 4})))
                          .model_dump(mode="json")) == ["repeat"]
