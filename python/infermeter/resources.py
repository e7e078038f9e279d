"""What a run used besides time, as a result states it (csrc/resource_meter.h):
memory (host and device peaks over the measuring phase, and the static bound
of weights plus one request's inputs and outputs per worker) and energy (the
GPU's NVML counter, the CPU packages' RAPL counters). A figure that could not
be read is None, with the reason under `unavailable`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Memory:
    """Bytes. Peaks are over the measuring phase (reset when it began)."""

    host_peak_rss: int | None
    host_peak_method: str
    device_peak_allocated: int | None  # the caching allocator's, all workers
    device_peak_reserved: int | None
    device_process_peak: int | None  # the process on the device as NVML sees it (context included)
    weights: int | None  # one copy
    inputs: int | None  # one worker's
    outputs: int  # one request's
    lower_bound: int | None  # weights per replica + inputs and outputs per worker
    unavailable: dict[str, str] = field(default_factory=dict)  # figure -> why it is None

    @classmethod
    def from_doc(cls, doc: dict) -> "Memory":
        return cls(host_peak_rss=doc["host_peak_rss_bytes"], host_peak_method=doc["host_peak_method"],
                   device_peak_allocated=doc["device_peak_allocated_bytes"],
                   device_peak_reserved=doc["device_peak_reserved_bytes"],
                   device_process_peak=doc["device_process_peak_bytes"], weights=doc["weights_bytes"],
                   inputs=doc["input_bytes"], outputs=doc["output_bytes"], lower_bound=doc["lower_bound_bytes"],
                   unavailable={k.removesuffix("_unavailable"): v for k, v in doc.items() if k.endswith("_unavailable")})

    @property
    def device_peak(self) -> int | None:
        """The most device memory the configuration needs, as measured: the
        process's (NVML) where known, else the allocator's reserved peak."""
        return self.device_process_peak if self.device_process_peak is not None else self.device_peak_reserved


@dataclass(frozen=True)
class EnergyReading:
    joules: float
    mean_watts: float
    joules_per_inference: float
    inferences_per_kwh: float | None
    note: str | None  # e.g. a window too short for the counter's update rate


@dataclass(frozen=True)
class Energy:
    window_s: float
    gpu: EnergyReading | None
    cpu: EnergyReading | None  # every CPU package of the host (RAPL)
    unavailable: dict[str, str] = field(default_factory=dict)  # "gpu"/"cpu" -> why it is None

    @classmethod
    def from_doc(cls, doc: dict) -> "Energy":
        def reading(d):
            return None if d is None else EnergyReading(d["joules"], d["mean_watts"], d["joules_per_inference"],
                                                        d["inferences_per_kwh"], d["note"])

        return cls(window_s=doc["window_s"], gpu=reading(doc.get("gpu")), cpu=reading(doc.get("cpu")),
                   unavailable={k.removesuffix("_unavailable"): v for k, v in doc.items() if k.endswith("_unavailable")})
