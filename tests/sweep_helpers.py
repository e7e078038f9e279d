"""Building blocks for sweep tests: models that fail on purpose, config files,
and results records built from chosen numbers."""

from __future__ import annotations

from pathlib import Path

import json

import torch
import yaml

from infermeter import _native, save_torchscript
from infermeter.sweep.grid import Point
from infermeter.sweep.store import RECORD_SCHEMA, ResultsFile


class FailsFromBatch(torch.nn.Module):
    """Raises `message` for batches of `limit` or more, as a kernel would: the
    engine sees an ordinary TorchScript failure carrying that text."""

    def __init__(self, limit: int, message: str):
        super().__init__()
        self.limit = limit
        self.message = message

    def forward(self, x):
        if x.shape[0] >= self.limit:
            raise RuntimeError(self.message)
        return torch.tanh(x)


def failing_model(path: Path, limit: int, message: str) -> Path:
    return save_torchscript(FailsFromBatch(limit, message), torch.rand(1, 32), path, method="script",
                            input_names=["x"])


def write_config(path: Path, **doc) -> Path:
    base = {"name": "t", "device": "cpu", "warmup": 0.05, "duration": 0.25, "threads": [1]}
    path.write_text(yaml.safe_dump(base | doc))
    return path


def synthetic_record(model: str, batch: int, threads: int, instance: str | None, inferences_per_s: float,
                     latencies_ms: list[float], precision: str = "fp32", sla: str | None = None) -> dict:
    """A results record with exactly these figures, as a sweep would have
    stored it: the document comes from the engine's result builder, fed
    requests of these latencies one after another, then its throughput is
    set to the figure asked for."""
    ns = [int(v * 1e6) for v in latencies_ms]
    timings, clock = [], 0
    for value in ns:
        timings.append((clock, clock + value))
        clock += value
    result = json.loads(_native.result_from_timings(
        {"batch_size": batch, "threads": threads, "duration": 1.0, "warmup": 0.0},
        {"path": model, "export": {"weights": "random"}}, [timings], batch, {"device_name": "constructed"}))
    result["measurement"] |= {"inferences_per_s": inferences_per_s, "requests_per_s": inferences_per_s / batch}
    point = Point(model, (), precision, batch, threads)
    return {"schema": RECORD_SCHEMA, "key": point.key, "series": point.series, "point": point.to_dict(),
            "sweep": {"name": "constructed", "settings": {"device": "cpu", "sla": sla}}, "instance": instance,
            "status": "ok",
            "error": None, "result": result}


def write_records(path: Path, records: list[dict]) -> Path:
    store = ResultsFile(path)
    for r in records:
        store.append(r)
    return store.path
