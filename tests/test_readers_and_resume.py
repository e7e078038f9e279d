"""The one reader of results (report, compare, recommend, merge and
load_results): every malformed input is one line naming its file and line,
or, with skip_bad / --skip-bad, left out and counted; and `--resume`
refusing a config that changes what the measured points measure, with the
history kept in sweep.json. Results are built by the engine's own result
builder (sweep_helpers.synthetic_record) or measured by tiny real sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infermeter import load_results
from infermeter.cli import main
from infermeter.sweep import load_config, run_sweep
from infermeter.sweep.execute import SWEEP_FILE, config_changes
from infermeter.sweep.merge import merge
from infermeter.sweep.store import BadRecord, ResultsFile, SkippedRecords, read_results
from sweep_helpers import synthetic_record, write_config, write_records


def _good(batch: int) -> dict:
    return synthetic_record("m.pt", batch, 1, None, 100.0 * batch, [1.0, 2.0, 3.0])


def _with(record: dict, path: str, value) -> dict:
    """A copy of `record` with the value at `path` ("result.measurement") replaced; DELETE removes it."""
    copy = json.loads(json.dumps(record))
    *parents, last = path.split(".")
    target = copy
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return copy


DELETE = object()

# (name, record at line 2 after a good one, words of the error)
BAD_RECORDS = [
    ("missing key", lambda: _with(_good(2), "point", DELETE), "'point' is missing"),
    ("wrong type", lambda: _with(_good(2), "point.batch_size", "2"), "'point.batch_size' is str, expected a whole"),
    ("a batch no run has", lambda: _with(_good(2), "point.batch_size", -5),
     "'point.batch_size' is -5, expected a whole number from 1 up to 2^31"),
    ("a throughput no run has", lambda: _with(_good(2), "result.measurement.inferences_per_s", float("nan")),
     "'result.measurement.inferences_per_s' is nan, expected a finite number, 0 or more"),
    ("a throughput past any float", lambda: _with(_good(2), "result.measurement.inferences_per_s", 10**400),
     "expected a finite number, 0 or more"),
    ("unknown status", lambda: _with(_good(2), "status", "great"), "status 'great' is none of"),
    ("result of another schema", lambda: _with(_good(2), "result.schema", "other/9"), "schema 'other/9'"),
    ("result of the wrong type", lambda: _with(_good(2), "result.measurement", "fast"),
     "'result.measurement' is str, expected an object"),
    ("result damaged deeper", lambda: _with(_good(2), "result.latency.host", {"count": 3}),
     "result cannot be read (judged_histogram): 'histogram' is missing"),
    ("histogram damaged", lambda: _with(_good(2), "result.latency.host.histogram", "HISTFAAAnot-a-histogram"),
     "result cannot be read (judged_histogram): Error: Invalid base64"),
    ("another schema", lambda: {"schema": "something/1", "key": "k"}, "not an infermeter sweep record"),
]


@pytest.fixture
def folders(tmp_path) -> dict[str, Path]:
    """A good sweep folder, and one of each kind of damage."""
    made = {"good": write_records(tmp_path / "good", [_good(1), _good(2)]).parent}
    for name, bad, _ in BAD_RECORDS:
        folder = tmp_path / name.replace(" ", "-")
        write_records(folder, [_good(1)])
        with open(folder / "results.jsonl", "a") as f:
            f.write(json.dumps(bad()) + "\n")
        made[name] = folder
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.jsonl").write_text("")
    made["empty"] = tmp_path / "empty"
    (tmp_path / "no-results").mkdir()
    made["no results"] = tmp_path / "no-results"
    made["run result"] = tmp_path / "run.json"
    made["run result"].write_text(json.dumps(_good(1)["result"], indent=2) + "\n")
    made["other json"] = tmp_path / "other.json"
    made["other json"].write_text('{"a": 1}')
    return made


WHOLE_FILE = [("empty", "results.jsonl: ", "empty results file"), ("no results", "", "no sweep results at"),
              ("run result", "run.json: ", "one run's result"), ("other json", "other.json: ", "not an infermeter result")]


@pytest.mark.parametrize("name, where, what", [(n, "results.jsonl, line 2: ", w) for n, _, w in BAD_RECORDS]
                         + WHOLE_FILE)
def test_every_reader_names_the_file_and_line(folders, capsys, tmp_path, name, where, what):
    bad = folders[name]
    with pytest.raises(BadRecord) as caught:
        load_results(folders["good"], bad)
    message = str(caught.value)
    assert str(bad) in message and where in message and what in message and "\n" not in message
    for args in (["report", folders["good"], bad, "-o", tmp_path / "report"], ["compare", folders["good"], bad],
                 ["recommend", bad, folders["good"], "--sla", "p99<10ms"],
                 ["merge", folders["good"], bad, "-o", tmp_path / "merged"]):
        code = main([str(a) for a in args])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("infermeter: ") and str(bad) in err and where in err and what in err, \
            (args, err)
        assert err.count("\n") == 1
    assert not (tmp_path / "report").exists() and not (tmp_path / "merged").exists()


def test_skip_bad_leaves_them_out_and_says_where(folders, capsys, tmp_path):
    damaged = [folders[name] for name, _, _ in BAD_RECORDS]
    whole = [folders[name] for name, _, _ in WHOLE_FILE]
    with pytest.warns(SkippedRecords, match=rf"skipped {len(damaged) + len(whole)} bad records") as caught:
        frame = load_results(folders["good"], *damaged, *whole, skip_bad=True)
    note = str(caught[0].message)
    assert "results.jsonl line 2 (first: " in note and "empty results file" in note and "run.json" in note
    assert len(frame) == 2 + len(damaged)  # the good folder's two points and each damaged folder's good line
    code = main(["report", str(folders["good"]), *map(str, damaged), "-o", str(tmp_path / "report"), "--skip-bad"])
    captured = capsys.readouterr()
    assert code == 0 and f"infermeter: skipped {len(damaged)} bad records" in captured.err
    assert (tmp_path / "report" / "report.html").is_file()
    code = main(["merge", str(folders["good"]), str(folders["empty"]), "-o", str(tmp_path / "m"), "--skip-bad"])
    out = capsys.readouterr().out
    assert code == 0 and "2 points written" in out and "skipped 1 bad record" in out and "empty results file" in out
    with pytest.raises(ValueError, match="every record was skipped"), pytest.warns(SkippedRecords):
        load_results(folders["empty"], skip_bad=True)


def test_the_newest_valid_record_of_a_point_is_read(folders):
    """A bad newer record of a point, skipped, leaves the older one."""
    path = folders["missing key"] / "results.jsonl"
    with open(path, "a") as f:
        f.write(json.dumps(_with(_good(1), "point.threads", None)) + "\n")
    read = read_results([path], skip_bad=True)
    assert [(r.line, r.record["key"]) for r in read.records] == [(1, _good(1)["key"])]
    assert [b.line for b in read.skipped] == [2, 3]


def test_a_last_record_missing_only_its_newline_is_kept(tmp_path):
    path = write_records(tmp_path / "r.jsonl", [_good(1), _good(2)])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert [r["point"]["batch_size"] for r in ResultsFile(path).records()] == [1, 2]
    ResultsFile(path).cut_torn_tail()  # as --resume does before appending
    ResultsFile(path).append(_good(3))
    assert [r["point"]["batch_size"] for r in ResultsFile(path).records()] == [1, 2, 3]


# ---------------------------------------------------------------- resume


@pytest.fixture
def measured(tmp_path, linear_model):
    """A real sweep of one point, and its config file."""
    config_path = write_config(tmp_path / "s.yaml", models=[{"name": str(linear_model)}], batch_sizes=[1],
                               warmup=0.02, duration=0.1)
    run_sweep(load_config(config_path), tmp_path / "out", progress=False)
    return config_path, tmp_path / "out"


def _rewrite(config_path: Path, **changes) -> Path:
    import yaml

    doc = yaml.safe_load(config_path.read_text()) | changes
    config_path.write_text(yaml.safe_dump(doc))
    return config_path


def test_resume_refuses_a_changed_config_naming_its_keys(measured, capsys):
    config_path, out = measured
    before = {name: (out / name).read_bytes() for name in ("results.jsonl", SWEEP_FILE)}
    _rewrite(config_path, duration=0.2, threads=[2], description="longer")
    with pytest.raises(ValueError, match=r"duration, threads \(without 1\) changed.*--accept-changed-config"):
        run_sweep(load_config(config_path), out, progress=False, resume=True)
    code = main(["sweep", str(config_path), "-o", str(out), "--resume", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("infermeter: ") and "duration" in err and "description" not in err
    assert {name: (out / name).read_bytes() for name in before} == before  # nothing written
    code = main(["sweep", str(config_path), "-o", str(out), "--resume", "--quiet", "--accept-changed-config"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / SWEEP_FILE).read_text())
    assert doc["config"]["duration"] == 0.2 and len(doc["history"]) == 1
    earlier = doc["history"][0]
    assert earlier["config"]["duration"] == 0.1 and earlier["changed"] == ["duration", "threads (without 1)"]
    assert earlier["replaced_at"].endswith("+00:00")
    assert [r["point"]["threads"] for r in ResultsFile(out).records()] == [1, 2]


def test_resume_with_a_widened_axis_adds_points_and_keeps_the_history(measured):
    config_path, out = measured
    outcome = run_sweep(load_config(_rewrite(config_path, batch_sizes=[1, 2], description="wider")), out,
                        progress=False, resume=True)
    assert outcome.resumed == 1 and outcome.statuses == {"ok": 1}
    doc = json.loads((out / SWEEP_FILE).read_text())
    assert doc["config"]["batch_sizes"] == [1, 2] and doc["history"][0]["config"]["batch_sizes"] == [1]
    assert doc["history"][0]["changed"] == []
    # The same config again replaces nothing.
    run_sweep(load_config(config_path), out, progress=False, resume=True)
    assert len(json.loads((out / SWEEP_FILE).read_text())["history"]) == 1


def test_an_older_sweep_priced_by_instance_on_the_command_line_resumes(measured, capsys):
    """Its sweep.json (written before --instance was kept in it) names no
    instance, and its records name the one given: giving it again is no
    change; another one is."""
    config_path, out = measured
    records = [r | {"instance": "g5.xlarge"} for r in ResultsFile(out).records()]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert json.loads((out / SWEEP_FILE).read_text())["config"]["instance"] is None
    code = main(["sweep", str(config_path), "-o", str(out), "--resume", "--quiet", "--instance", "c5.xlarge"])
    assert code == 2 and "instance changed" in capsys.readouterr().err
    code = main(["sweep", str(config_path), "-o", str(out), "--resume", "--quiet", "--instance", "g5.xlarge"])
    assert code == 0, capsys.readouterr().err


def test_what_changes_a_measured_point():
    config = {"name": "t", "device": "cpu", "duration": 0.25, "threads": [1, 2], "batch_sizes": [1],
              "models": [{"name": "resnet18", "resolution": [32]}]}
    assert config_changes(config, config | {"name": "u", "description": "x"}) == []
    assert config_changes(config, config | {"threads": [2, 1, 4], "batch_sizes": [1, 8]}) == []
    assert config_changes(config, config | {"models": config["models"] + [{"name": "resnet50"}]}) == []
    assert config_changes(config, config | {"precisions": ["bf16"]}) == ["precisions (without fp32)"]
    assert config_changes(config, config | {"warmup": 2.0, "device": "cuda"}) == ["device", "warmup"]
    assert config_changes(config, config | {"models": [{"name": "resnet18", "resolution": [32],
                                                        "weights": "random"}]}) == ["models[0].weights"]
    assert config_changes(config, config | {"models": [{"name": "resnet50"}]}) == [
        "models[0].name", "models[0].resolution"]
    assert config_changes(config | {"models": config["models"] * 2}, config) == ["models[1] (resnet18: gone)"]
