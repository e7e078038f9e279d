"""Instance prices and what an inference costs at a measured rate."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infermeter.backends import COMPILING

SECONDS_PER_HOUR = 3600.0
PRICINGS = ("share", "instance")  # the share of the instance a run held, or the whole instance


def cost_per_million(throughput_per_s: float, price_per_hour: float) -> float:
    """Dollars per million inferences at `throughput_per_s` inferences per
    second on an instance that costs `price_per_hour`."""
    if throughput_per_s <= 0:
        raise ValueError(f"throughput must be positive, got {throughput_per_s}")
    return price_per_hour / (throughput_per_s * SECONDS_PER_HOUR) * 1e6


def cost_per_inferences(mean_latency_s: float, price_per_hour: float, n: int) -> float:
    """Dollars for `n` single-stream inferences of `mean_latency_s` each: the
    instance is paid for only while it serves them."""
    return price_per_hour / SECONDS_PER_HOUR * mean_latency_s * n


class Instance(BaseModel):
    # Not inf or nan: YAML's .inf would pass `gt=0` and every cost would print as $inf.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    accelerator: str
    count: int = Field(ge=0, strict=True)  # accelerators: GPUs, Inferentia chips
    cores_per_accelerator: int = Field(1, ge=1, strict=True)  # NeuronCores per Inferentia chip (inf1 4, inf2 2)
    price_per_hour: float = Field(gt=0, strict=True)  # strict: YAML's `true` is not $1.00
    region: str
    date: datetime.date
    source: str
    note: str = ""
    attachable: bool = False  # an accelerator that prices only beside a client instance
    # Memory, for recommend's fit check; None where a price file does not give it (older catalogs).
    accelerator_memory_gib: float | None = Field(None, gt=0, strict=True)  # each accelerator's: a GPU's, an Inferentia chip's
    host_memory_gib: float | None = Field(None, gt=0, strict=True)  # an attachable accelerator has none of its own


class Catalog:
    def __init__(self, instances: dict[str, Instance]):
        self.instances = instances

    def _parts(self, name: str) -> tuple[Instance, list[Instance]]:
        """(client instance, attached accelerators) of `name`, "client" or
        "client+accelerator"."""
        parts = name.split("+")
        unknown = [p for p in parts if p not in self.instances]
        if unknown:
            raise ValueError(f"unknown instance {unknown[0]!r} (in {name!r}); known: {', '.join(self.instances)}. "
                             "Add it in a price file of your own (--prices FILE).")
        clients = [self.instances[p] for p in parts if not self.instances[p].attachable]
        if len(clients) != 1:
            raise ValueError(f"instance {name!r} must name exactly one client instance, plus attached accelerators")
        return clients[0], [self.instances[p] for p in parts if self.instances[p].attachable]

    def price(self, name: str) -> float:
        """$/hour of `name`; "client+accelerator" is the sum of both."""
        client, attached = self._parts(name)
        return client.price_per_hour + sum(a.price_per_hour for a in attached)

    def host_memory_gib(self, name: str) -> float | None:
        """Host memory of instance `name` (its client instance's, with
        accelerators attached); None where the catalog does not give it."""
        return self._parts(name)[0].host_memory_gib

    def accelerator_memory_gib(self, name: str, used: "DeviceUse | None") -> float | None:
        """The accelerator memory a run holding `used` of instance `name` can
        fill: each accelerator's memory times the accelerators it held (a
        NeuronCore its share of its chip's), all of them when it held the
        whole instance (`used` None), the attached accelerators' for
        "client+accelerator". None where the catalog does not give it, or the
        instance has no accelerator."""
        client, attached = self._parts(name)
        held = attached or [client]
        if any(a.accelerator_memory_gib is None or a.count == 0 for a in held):
            return None
        whole = sum(a.accelerator_memory_gib * a.count for a in held)
        if attached or used is None:
            return whole
        per_unit = client.accelerator_memory_gib / (client.cores_per_accelerator if used.unit == "NeuronCore" else 1)
        return min(per_unit * used.count, whole)  # holding more than there is, it holds the whole, as share() says

    def share(self, name: str, used: "DeviceUse | None") -> "Share | None":
        """The part of instance `name` a run holding `used` occupies, or None
        when it is priced whole: CPU runs, attached accelerators, runs whose
        devices are not known, and runs holding at least all of them."""
        if used is None or "+" in name or name not in self.instances:
            return None
        entry = self.instances[name]
        capacity = entry.count * (entry.cores_per_accelerator if used.unit == "NeuronCore" else 1)
        if used.count >= capacity:
            return None
        return Share(used, capacity)


@dataclass(frozen=True)
class DeviceUse:
    unit: str  # "GPU" or "NeuronCore"
    count: int


@dataclass(frozen=True)
class Share:
    used: DeviceUse
    of: int

    @property
    def fraction(self) -> float:
        return self.used.count / self.of

    def __str__(self) -> str:
        return f"{self.used.count} of {self.of} {self.used.unit}s"


def _core_count(cores: str) -> int:
    """Cores in a NEURON_RT_VISIBLE_CORES list such as "0-3,6"."""
    total = 0
    for part in cores.split(","):
        first, _, last = part.partition("-")
        total += int(last or first) - int(first) + 1
    return total


def devices_used(result: dict, settings: dict | None = None) -> DeviceUse | None:
    """The accelerators a run held, from its result document (and, for
    neuronx, the sweep settings that chose its cores); None when it held the
    whole instance.

    - cuda:N: one GPU (the engine drives one device per run).
    - cpu: the whole instance, because each client thread's intra-op pool
      gets max(1, cores / threads) threads, so together they span every core.
    - neuron: the NeuronCores of NEURONCORE_GROUP_SIZES (their sum), which the
      runtime reserves for the process when it starts.
    - neuronx: NEURON_RT_VISIBLE_CORES or NEURON_RT_NUM_CORES; without either
      the runtime takes every core of the instance.
    - eia: the client instance and its accelerator, whole."""
    settings = settings or {}
    if str(result["config"]["device"]).startswith("cuda"):
        return DeviceUse("GPU", 1)
    export = result["model"].get("export") or {}
    backend = export.get("backend") or settings.get("backend")
    if backend == "neuron":
        sizes = ((export.get("backend_facts") or {}).get("group_sizes")
                 or (settings.get("neuron") or {}).get("group_sizes"))
        return DeviceUse("NeuronCore", sum(int(s) for s in sizes.split(","))) if sizes else None
    if backend == "neuronx":
        options = settings.get("neuronx") or {}
        if options.get("visible_cores"):
            return DeviceUse("NeuronCore", _core_count(options["visible_cores"]))
        if options.get("num_cores"):
            return DeviceUse("NeuronCore", int(options["num_cores"]))
    return None


def holds_accelerator(result: dict, settings: dict | None = None) -> bool:
    """Whether a run computed on an accelerator (a GPU, Inferentia, an
    Elastic Inference accelerator), from its result document (and the sweep
    settings, as devices_used reads them): its device memory must then fit
    the accelerators'. The compiling backends take their inputs from the
    host, so their device is "cpu"."""
    backend = (result["model"].get("export") or {}).get("backend") or (settings or {}).get("backend")
    return str(result["config"]["device"]).startswith("cuda") or backend in COMPILING


def _read(path: Path) -> dict[str, Instance]:
    from infermeter.sweep.config import DuplicateKey, read_yaml

    try:
        doc = read_yaml(path) or {}
    except DuplicateKey as e:
        raise ValueError(f"{path}, {e}") from None
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read price file: {e}") from None
    if not isinstance(doc, dict) or set(doc) - {"defaults", "instances"} or not isinstance(doc.get("instances"), dict):
        raise ValueError(f"{path}: a price file has `instances:` (a mapping of name to price) and optional `defaults:`")
    defaults = doc.get("defaults") or {}
    out = {}
    for name, fields in doc["instances"].items():
        try:
            out[name] = Instance.model_validate({**defaults, **(fields or {})})
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            raise ValueError(f"{path}: instances.{name}: {problems}") from None
    return out


@lru_cache
def _shipped() -> dict[str, Instance]:
    from infermeter.sweep.config import shipped_configs

    return _read(shipped_configs() / "instances.yaml")


def load_catalog(*override_files: str | Path) -> Catalog:
    """The shipped catalog, with the instances of `override_files` replacing
    or adding to it (later files win)."""
    instances = dict(_shipped())
    for path in override_files:
        instances |= _read(Path(path))
    return Catalog(instances)
