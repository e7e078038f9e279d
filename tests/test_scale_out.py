"""Scale-out: shards, merge, the AWS Batch spec, and a local Ray cluster
running a sweep across worker processes, including workers killed mid-point."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from infermeter.cli import main
from infermeter.sweep import expand, load_config, run_sweep
from infermeter.sweep.batch_spec import batch_spec
from infermeter.sweep.shard import parse_shard, shard
from infermeter.sweep.store import ResultsFile
from sweep_helpers import write_config

TINY = [{"name": "resnet18", "resolution": 32}]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 80, 81])
def test_shards_are_disjoint_balanced_and_cover_the_grid(count):
    grid = expand(load_config("g5_vs_g4dn"))  # 80 points
    parts = [shard(grid, i, count) for i in range(count)]
    keys = [p.key for part in parts for p in part]
    assert len(keys) == len(set(keys)) and set(keys) == {p.key for p in grid}
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert [p.key for p in shard(grid, 0, count)] == [p.key for p in parts[0]]  # deterministic


def test_shard_argument():
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "1", "-1/3", "a/b"):
        with pytest.raises(ValueError, match="I/N with 0 <= I < N"):
            parse_shard(bad)


@pytest.fixture(scope="module")
def two_shards(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    config_path = write_config(tmp / "s.yaml", models=TINY, batch_sizes=[1, 2, 3], duration=0.2)
    config = load_config(config_path)
    for i in range(2):
        run_sweep(config, tmp / f"shard{i}", shard_spec=(i, 2), progress=False)
    return tmp, config


def test_merge_combines_shards_in_grid_order(two_shards, capsys):
    tmp, config = two_shards
    assert main(["merge", str(tmp / "shard0"), str(tmp / "shard1"), "-o", str(tmp / "merged")]) == 0
    assert "3 points written" in capsys.readouterr().out
    merged = ResultsFile(tmp / "merged").records()
    assert [r["key"] for r in merged] == [p.key for p in expand(config)]


def test_merge_reports_gaps_and_refuses_duplicates(two_shards, capsys):
    tmp, config = two_shards
    assert main(["merge", str(tmp / "shard0"), "-o", str(tmp / "partial")]) == 1
    out = capsys.readouterr().out
    missing = [p.key for p in shard(expand(config), 1, 2)]
    assert f"{len(missing)} missing: {', '.join(missing)}" in out
    assert main(["merge", str(tmp / "shard0"), str(tmp / "shard0"), "-o", str(tmp / "dup")]) == 2
    assert "is in both" in capsys.readouterr().err and not (tmp / "dup" / "results.jsonl").exists()
    other = load_config(write_config(tmp / "o.yaml", models=TINY, batch_sizes=[4], duration=0.2))
    run_sweep(other, tmp / "other", progress=False)
    assert main(["merge", str(tmp / "shard0"), str(tmp / "other"), "-o", str(tmp / "mixed")]) == 2
    assert "different sweep configs" in capsys.readouterr().err


def test_batch_spec_matches_the_batch_api_and_runs_a_shard(tmp_path, capsys):
    import botocore.session
    from botocore.validate import ParamValidator

    config_path = write_config(tmp_path / "s.yaml", models=TINY, batch_sizes=[1, 2, 3, 4], duration=0.2)
    assert main(["batch-spec", str(config_path), "--shards", "2", "--image", "123.dkr.ecr.us-east-1.amazonaws.com/im:1",
                 "--job-queue", "gpu-queue", "--results-dir", str(tmp_path / "results"), "-o", str(tmp_path)]) == 0
    job_definition = json.loads((tmp_path / "job-definition.json").read_text())
    submit = json.loads((tmp_path / "submit-job.json").read_text())
    batch = botocore.session.get_session().get_service_model("batch")
    for operation, params in (("RegisterJobDefinition", job_definition), ("SubmitJob", submit)):
        report = ParamValidator().validate(params, batch.operation_model(operation).input_shape)
        assert not report.has_errors(), report.generate_report()
    assert submit["arrayProperties"] == {"size": 2} and submit["jobDefinition"] == job_definition["jobDefinitionName"]
    assert {"type": "GPU", "value": "1"} not in job_definition["containerProperties"]["resourceRequirements"]
    # What one array child would run, run here with the index Batch would set.
    command = job_definition["containerProperties"]["command"]
    env = os.environ | {"AWS_BATCH_JOB_ARRAY_INDEX": "1"}
    subprocess.run(command, env=env, check=True, timeout=300, capture_output=True)
    done = ResultsFile(tmp_path / "results" / "t" / "shard-1-of-2").records()
    assert [r["key"] for r in done] == [p.key for p in shard(expand(load_config(config_path)), 1, 2)]


def test_batch_spec_for_a_gpu_sweep():
    spec = batch_spec(load_config("g5_vs_g4dn"), "g5_vs_g4dn", 1, "im", "q")
    assert {"type": "GPU", "value": "1"} in spec["registerJobDefinition"]["containerProperties"]["resourceRequirements"]
    assert "arrayProperties" not in spec["submitJob"]  # Batch arrays have at least two children
    with pytest.raises(ValueError, match="between 1 and 10000"):
        batch_spec(load_config("g5_vs_g4dn"), "g5_vs_g4dn", 0, "im", "q")


def _sweep_process(config_path, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "infermeter", "sweep", str(config_path), "-o", str(out), "--quiet",
                             "--executor", "ray", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ray_task_pids(exclude=()) -> list[int]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in listing.splitlines()[1:]
            if "ray::infermeter:" in line and int(line.split()[0]) not in exclude]


def _kill_running_task(exclude=(), timeout=120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _ray_task_pids(exclude)
        if pids:
            time.sleep(0.5)  # well inside the point: its export is done and measuring has begun
            os.kill(pids[0], signal.SIGKILL)
            return pids[0]
        time.sleep(0.1)
    raise AssertionError("no Ray task process appeared")


def test_ray_runs_the_same_points_as_the_local_executor(tmp_path):
    config_path = write_config(tmp_path / "s.yaml", models=TINY, batch_sizes=[1, 2], threads=[1], duration=0.3)
    proc = _sweep_process(config_path, tmp_path / "ray")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    run_sweep(load_config(config_path), tmp_path / "local", progress=False)
    on_ray, local = ResultsFile(tmp_path / "ray").latest(), ResultsFile(tmp_path / "local").latest()
    assert set(on_ray) == set(local) and all(r["status"] == "ok" for r in on_ray.values())
    assert {r["worker"]["pid"] for r in on_ray.values()}.isdisjoint({proc.pid})  # measured in Ray's workers


def test_ray_runs_a_sweeps_repeat_as_rounds(tmp_path):
    """Each round's points are Ray tasks, each run a fresh process of its
    worker; the rounds are combined as the local executor combines them."""
    config_path = write_config(tmp_path / "s.yaml", models=TINY, batch_sizes=[1, 2], threads=[1], duration=0.3,
                               repeat=2)
    proc = _sweep_process(config_path, tmp_path / "ray")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "2 rounds of 2 points: 4 ok" in stdout
    for i in (1, 2):
        assert [r["status"] for r in ResultsFile(tmp_path / "ray" / "rounds" / str(i)).records()] == ["ok", "ok"]
    combined = ResultsFile(tmp_path / "ray").records()
    assert [r["key"] for r in combined] == [p.key for p in expand(load_config(config_path))]
    for record in combined:
        repeats = record["result"]["repeats"]
        assert len(repeats["runs"]) == 2
        assert repeats["isolation"] == "2 rounds of one sweep, interleaved; each run a fresh process"


def test_ray_retries_a_point_whose_worker_was_killed_once(tmp_path):
    config_path = write_config(tmp_path / "s.yaml", models=TINY, duration=4)
    proc = _sweep_process(config_path, tmp_path / "out")
    killed = _kill_running_task()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    (record,) = ResultsFile(tmp_path / "out").records()
    assert record["status"] == "ok" and record["worker"]["pid"] != killed


def test_ray_records_a_point_failed_after_its_retry_is_killed_too(tmp_path):
    config_path = write_config(tmp_path / "s.yaml", models=TINY, duration=4)
    proc = _sweep_process(config_path, tmp_path / "out")
    first = _kill_running_task()
    _kill_running_task(exclude={first})
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    (record,) = ResultsFile(tmp_path / "out").records()
    assert record["status"] == "failed" and "worker lost 2 times" in record["error"]


def test_ray_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    config = load_config(write_config(tmp_path / "s.yaml", models=TINY))
    with pytest.raises(ValueError, match=r"pip install 'infermeter\[ray\]'"):
        run_sweep(config, tmp_path / "out", executor="ray", progress=False)
