"""Building blocks for sweep tests: models that fail on purpose, config files,
and results records built from chosen numbers."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from hdrh.histogram import HdrHistogram

from infermeter import save_torchscript
from infermeter.backends.python_loop import HIGHEST_NS, latency_summary
from infermeter.result import SCHEMA
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
    """A results record with exactly these figures, as a sweep would have stored it."""
    ns = [int(v * 1e6) for v in latencies_ms]
    h = HdrHistogram(1, HIGHEST_NS, 3)
    for value in ns:
        h.record_value(value)
    host = latency_summary(h)
    result = {"schema": SCHEMA, "model": {"path": model, "export": {"weights": "random"}},
              "config": {"batch_size": batch, "threads": threads, "device": "cpu", "replicas": "per-thread"},
              "measurement": {"requests": len(ns), "inferences": len(ns) * batch, "warmup_requests": 0,
                              "elapsed_s": 1.0, "interrupted": False, "inferences_per_s": inferences_per_s,
                              "requests_per_s": inferences_per_s / batch},
              "latency": {"host": host, "launch": None, "device": None},
              "timeline": {"window_s": 0.1, "completions": [len(ns) // 10] * 10},
              "calibration": None, "environment": {"device_name": "constructed"}}
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
