"""The `infermeter` command line."""

import json

import pytest

from infermeter.cli import main


def test_run_prints_summary_and_writes_json(linear_model, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", str(linear_model), "--batch-size", "2", "--threads", "2", "--duration", "0.3",
                 "--warmup", "0.1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "throughput" in text and "batch 2, 2 thread(s)" in text
    doc = json.loads(out.read_text())
    assert doc["config"]["threads"] == 2 and doc["measurement"]["requests"] > 0


def test_run_requests_without_duration(linear_model, capsys):
    assert main(["run", str(linear_model), "--requests", "40", "--warmup", "0", "--no-calibrate"]) == 0
    assert "requests     40 in" in capsys.readouterr().out


@pytest.mark.parametrize("args, code, message", [
    (["run", "nowhere.pt"], 1, "model file not found"),
    (["run", "{model}", "--threads", "0"], 2, "threads must be >= 1"),
    (["run", "{model}", "--device", "cuda:9"], 2, "cuda:9"),
])
def test_errors_are_messages_not_tracebacks(linear_model, capsys, args, code, message):
    assert main([a.format(model=linear_model) for a in args]) == code
    err = capsys.readouterr().err
    assert err.startswith("infermeter: ") and message in err and "Traceback" not in err

