"""Points as Ray tasks. Each task holds a whole GPU (or, on a CPU-only
cluster, a number of CPUs) so that no two points share an accelerator. The
batch sizes of one series run one after another, so an out-of-memory batch
still skips the larger ones; different series run in parallel. A task whose
worker dies is retried once by Ray, then recorded as failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infermeter.sweep.config import SweepConfig
from infermeter.sweep.grid import Point
from infermeter.sweep.point import host_facts, measure_point, new_record

INSTALL_HINT = "--executor ray needs Ray: pip install 'infermeter[ray]'"
LOST_WORKER_RETRIES = 1


def _ray():
    try:
        import ray
    except ImportError as e:
        raise ValueError(f"{INSTALL_HINT} ({e})") from None
    return ray


def _lost(config: SweepConfig, point: Point, instance: str | None, error: Exception) -> dict:
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    record = new_record(config, point, instance, "failed",
                        f"worker lost {LOST_WORKER_RETRIES + 1} times ({type(error).__name__}: {message})")
    return record | {"environment": host_facts(config.device)}


def run_on_ray(config: SweepConfig, todo: list[Point], tracker, model_dir: Path, instance: str | None,
               finished: Callable[[dict], None], address: str | None, cpus_per_point: int | None,
               fresh: bool = False) -> None:
    ray = _ray()
    if not ray.is_initialized():
        # No address: a Ray instance on this machine, with all its GPUs and CPUs.
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    gpu = config.device.startswith("cuda")
    task = ray.remote(max_retries=LOST_WORKER_RETRIES, retry_exceptions=False)(measure_point)
    model_dir = str(model_dir.resolve())

    def submit(point: Point):
        resources = {"num_gpus": 1, "num_cpus": cpus_per_point or 1} if gpu else {
            "num_cpus": cpus_per_point or point.threads}
        return task.options(**resources, name=f"infermeter:{point.key}").remote(config, point, Path(model_dir),
                                                                                instance, fresh)

    queues: dict[str, list[Point]] = {}
    for point in todo:  # grid order: ascending batch within each series
        queues.setdefault(point.series, []).append(point)
    running: dict = {}

    def start_next(series: str) -> None:
        while queues[series]:
            point = queues[series].pop(0)
            skipped = tracker.skipped(config, point, instance)
            if skipped is None:
                running[submit(point)] = point
                return
            finished(skipped)

    try:
        for series in queues:
            start_next(series)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            point = running.pop(done[0])
            try:
                record = ray.get(done[0])
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                    ray.exceptions.RayTaskError, ray.exceptions.ObjectLostError) as e:
                record = _lost(config, point, instance, e)
            finished(record)
            start_next(point.series)
    except KeyboardInterrupt:
        for ref in running:
            ray.cancel(ref, force=True)
        raise
