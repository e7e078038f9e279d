"""Sweeps on the CPU: the whole path, resume after a real interruption, and
failures and out-of-memory recorded without stopping the sweep."""

import json
import signal
import subprocess
import sys
import time

import pytest

from infermeter.sweep import expand, load_config, run_sweep
from infermeter.sweep.store import ResultsFile
from sweep_helpers import failing_model, write_config


def test_small_sweep_runs_end_to_end(tmp_path):
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "resnet18", "resolution": 32}],
                                      batch_sizes=[1, 2], threads=[1, 2], instance="c5.large"))
    outcome = run_sweep(config, tmp_path / "out", progress=False)
    assert outcome.statuses == {"ok": 4} and not outcome.interrupted
    records = ResultsFile(tmp_path / "out").records()
    assert [r["key"] for r in records] == [p.key for p in expand(config)]
    for r in records:
        assert r["instance"] == "c5.large" and r["sweep"]["settings"]["duration"] == 0.25
        result = r["result"]
        assert result["config"]["batch_size"] == r["point"]["batch_size"]
        assert result["config"]["threads"] == r["point"]["threads"]
        assert result["measurement"]["requests"] > 0 and result["latency"]["host"]["histogram"].startswith("HIST")
        assert result["model"]["export"]["weights"] == "random" and result["environment"]["cpu_count"] >= 1
    # One export serves every batch size: the graph is batch-dynamic.
    assert len(list((tmp_path / "out" / "models").glob("*.pt"))) == 1


def test_failures_and_out_of_memory_are_recorded_and_the_sweep_goes_on(tmp_path):
    oom = failing_model(tmp_path / "oom.pt", 4, "CUDA out of memory. Tried to allocate 20.00 GiB")
    broken = failing_model(tmp_path / "broken.pt", 2, "shape mismatch in layer 3")
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "oom.pt"}, {"name": "broken.pt"}],
                                      batch_sizes=[1, 2, 4, 8]))
    outcome = run_sweep(config, tmp_path / "out", progress=False)
    status = {(r["point"]["model"], r["point"]["batch_size"]): r for r in ResultsFile(tmp_path / "out").records()}
    assert [status[(str(oom), b)]["status"] for b in (1, 2, 4, 8)] == ["ok", "ok", "oom", "skipped"]
    assert "out of memory" in status[(str(oom), 4)]["error"]
    assert "batch 4" in status[(str(oom), 8)]["error"]
    # A failure is not an OOM: larger batches still run, and the message is kept.
    assert [status[(str(broken), b)]["status"] for b in (1, 2, 4, 8)] == ["ok", "failed", "failed", "failed"]
    assert "shape mismatch in layer 3" in status[(str(broken), 2)]["error"]
    assert status[(str(broken), 2)]["environment"]["torch_build"]
    assert outcome.statuses == {"ok": 3, "oom": 1, "skipped": 1, "failed": 3}


def test_existing_results_need_resume(tmp_path):
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "resnet18", "resolution": 32}]))
    run_sweep(config, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="--resume"):
        run_sweep(config, tmp_path / "out", progress=False)
    again = run_sweep(config, tmp_path / "out", progress=False, resume=True)
    assert again.resumed == 1 and not again.statuses


def test_interrupted_sweep_resumes_without_repeating_or_losing_points(tmp_path):
    config_path = write_config(tmp_path / "s.yaml", models=[{"name": "resnet18", "resolution": 32}],
                               batch_sizes=[1, 2, 3, 4], duration=1.0)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "infermeter", "sweep", str(config_path), "-o", str(out), "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while not (results.exists() and results.read_text().count("\n") >= 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "--resume" in stdout
    first = ResultsFile(out).records()
    assert 1 <= len(first) < 4 and all(r["status"] == "ok" for r in first)
    # A torn line, as a crash mid-write leaves, is cut off on resume.
    with open(results, "ab") as f:
        f.write(b'{"key": "torn')
    with pytest.warns(UserWarning, match="ignoring 13 bytes"):
        outcome = run_sweep(load_config(config_path), out, progress=False, resume=True)
    assert outcome.resumed == len(first) and sum(outcome.statuses.values()) == 4 - len(first)
    final = ResultsFile(out).records()
    assert [r["key"] for r in final] == [p.key for p in expand(load_config(config_path))]
    assert final[: len(first)] == first
    assert all(json.loads(line) for line in results.read_text().splitlines())


def test_failed_points_run_again_on_resume(tmp_path):
    broken = failing_model(tmp_path / "m.pt", 2, "transient")
    config_path = write_config(tmp_path / "s.yaml", models=[{"name": "m.pt"}], batch_sizes=[1, 2])
    run_sweep(load_config(config_path), tmp_path / "out", progress=False)
    failing_model(broken, 100, "never")  # the cause of the failure is gone
    outcome = run_sweep(load_config(config_path), tmp_path / "out", progress=False, resume=True)
    assert outcome.resumed == 1 and outcome.statuses == {"ok": 1}
    latest = ResultsFile(tmp_path / "out").latest()
    assert [r["status"] for r in latest.values()] == ["ok", "ok"]


def test_unknown_instance_fails_before_any_point(tmp_path):
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "resnet18", "resolution": 32}]))
    with pytest.raises(ValueError, match="unknown instance 'g5.xlarg'"):
        run_sweep(config, tmp_path / "out", instance="g5.xlarg", progress=False)
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_shipped_configs_all_validate():
    from infermeter.sweep.config import shipped_configs

    names = sorted(p.stem for p in shipped_configs().glob("*.yaml") if p.stem != "instances")
    assert {"cpu_quick", "g5_vs_g4dn", "inferentia_bert", "ei_gpt", "cv_resolutions", "bert_large"} <= set(names)
    for name in names:
        assert expand(load_config(name))
    g5 = load_config("g5_vs_g4dn")
    assert g5.batch_sizes == [1, 4, 8, 16, 32] and g5.precisions == ["fp32", "mixed"] and g5.threads == [1, 2, 4, 8]


def test_damage_before_the_last_line_is_an_error_not_a_truncation(tmp_path):
    from sweep_helpers import synthetic_record, write_records

    path = write_records(tmp_path / "r.jsonl", [synthetic_record("m", b, 1, None, 10.0, [1.0]) for b in (1, 2, 3)])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"half a record\n' + lines[2])
    store = ResultsFile(path)
    with pytest.raises(ValueError, match=r"r.jsonl, line 2: not an infermeter sweep record"):
        store.records()
    with pytest.raises(ValueError, match="line 2"):
        store.cut_torn_tail()
    assert path.read_bytes().endswith(lines[2])  # nothing measured was cut off
    other = tmp_path / "other.jsonl"
    other.write_text('{"some": "json"}\n')
    with pytest.raises(ValueError, match="other.jsonl, line 1: not an infermeter sweep record"):
        ResultsFile(other).records()



def test_progress_line_shows_compile_time_apart_from_measuring(tmp_path):
    from infermeter.sweep.execute import _label

    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "resnet18", "resolution": 32}],
                                      batch_sizes=[1], duration=0.2))
    run_sweep(config, tmp_path / "out", progress=False)
    (record,) = ResultsFile(tmp_path / "out").records()
    timing = record["timing"]
    assert timing["export_s"] > 0 and timing["measure_s"] >= 0.2 and "compile_s" not in timing  # TorchScript
    assert _label(record).endswith(f"(export {timing['export_s']:.1f} s, measure {timing['measure_s']:.1f} s)")
    aoti = record | {"timing": {"export_s": 40.0, "compile_s": 34.2, "compile_cache": "hit", "measure_s": 5.04}}
    assert _label(aoti).endswith("inf/s (compile 34 s cached, measure 5.0 s)")
