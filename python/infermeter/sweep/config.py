"""Sweep configs: YAML validated by pydantic. Every error names the file and
the key (`models[1].seq_len`), so a typo never starts a half-wrong sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError,
                      field_validator, model_validator)
from pydantic_core import InitErrorDetails, PydanticCustomError

from infermeter import _native, zoo
from infermeter.backends import BACKENDS, COMPILING, BackendConfig, EiaOptions, as_backend
from infermeter.backends.neuron import NeuronOptions
from infermeter.backends.neuronx import NeuronxOptions
from infermeter.export import PRECISIONS
from infermeter.sla import parse_sla

Precision = Literal[PRECISIONS]


def _as_list(value):
    return value if isinstance(value, list) else [value]


# A key that takes one value or a list of them.
Positives = Annotated[list[Annotated[int, Field(gt=0, strict=True)]], BeforeValidator(_as_list), Field(min_length=1)]
Precisions = Annotated[list[Precision], BeforeValidator(_as_list), Field(min_length=1)]
Runners = Annotated[list[Literal[tuple(_native.runner_names())]], BeforeValidator(_as_list), Field(min_length=1)]


def _distinct(rates: list[float]) -> list[float]:
    repeated = sorted({r for r in rates if rates.count(r) > 1})
    if repeated:
        raise ValueError(f"rate {repeated[0]:g} is given twice")
    return rates


# Open-loop arrival rates, requests/s.
Rates = Annotated[list[Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]], BeforeValidator(_as_list),
                  Field(min_length=1), AfterValidator(_distinct)]


# A model named with one of these is a file (TorchScript, or an AOTInductor .pt2), else a zoo name.
MODEL_FILE_SUFFIXES = (".pt", ".pth", ".ts", ".pt2")


class ConfigError(ValueError):
    """A sweep or price file that does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    """One model of a sweep: a zoo name (tv:/hf: included) or a TorchScript
    file, with the values of its own options to sweep over."""

    name: str
    seq_len: Positives | None = None
    resolution: Positives | None = None
    weights: str | None = None
    options: dict[str, Any] = {}
    # Overrides of the sweep-wide grid for this model.
    batch_sizes: Positives | None = None
    threads: Positives | None = None
    precisions: Precisions | None = None
    runners: Runners | None = None
    # This model's own open-loop load: giving either replaces the sweep's rates and find_rate for it.
    rates: Rates | None = None
    find_rate: StrictBool | None = None
    method: Literal["trace", "script"] = "trace"
    freeze: bool = True  # TorchScript exports are frozen, as deployments ship them

    @property
    def is_file(self) -> bool:
        return self.name.endswith(MODEL_FILE_SUFFIXES)

    @property
    def sets_load(self) -> bool:
        return self.rates is not None or self.find_rate is not None

    @model_validator(mode="after")
    def _known_model(self):
        if self.is_file:
            if self.precisions or self.seq_len or self.resolution or self.options or self.weights:
                raise ValueError("a model file is swept as exported: precisions, seq_len, resolution, "
                                 "weights and options do not apply to it")
            return self
        clash = {"seq_len", "resolution", "weights", "batch_size"} & set(self.options)
        if clash:
            raise ValueError(f"options: give {', '.join(sorted(clash))} as the model's own key, not under options")
        sample = {**self.options, **({"seq_len": self.seq_len[0]} if self.seq_len else {}),
                  **({"resolution": self.resolution[0]} if self.resolution else {}),
                  **({"weights": self.weights} if self.weights else {})}
        zoo.check_options(self.name, **sample)
        return self


class SweepConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    instance: str | None = None
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")
    # Each key's own range here, so its error names the key; how the run options
    # combine is the engine's to judge (_engine_accepts_the_runs).
    warmup: float = Field(1.0, ge=0)
    duration: float = Field(5.0, gt=0)
    replicas: Literal["per-thread", "shared"] = "per-thread"
    seed: int = 0
    sla: str | None = None
    backend: Literal[BACKENDS] | None = None  # default: cpu, or cuda for a cuda device
    neuron: NeuronOptions = NeuronOptions()
    neuronx: NeuronxOptions = NeuronxOptions()
    eia: EiaOptions = EiaOptions()
    models: list[ModelConfig] = Field(min_length=1)
    batch_sizes: Positives = [1]
    threads: Positives = [1]
    precisions: Precisions = ["fp32"]
    # What runs each point: torchscript and cuda-graph measure the TorchScript
    # export; aoti an AOTInductor package compiled for the device.
    runners: Runners = ["torchscript"]
    # How requests arrive: closed (each client sends its next request when the
    # last returns) or open, at each of `rates` requests/s, or at the highest
    # rate meeting `sla` that `find_rate` searches (each step at least `duration`).
    load: Literal["closed", "open"] = "closed"
    arrival: Literal["poisson", "constant"] = "poisson"
    rates: Rates | None = None
    find_rate: StrictBool = False
    # Statistical stop: measure until throughput and the ci_percentile latency
    # are known to +-ci (at least min_duration s; `duration` is then the most).
    ci: float | None = Field(None, gt=0, lt=1)
    ci_percentile: float = Field(99.0, gt=0, lt=100)
    min_duration: float = Field(1.0, ge=0)
    repeat: int = Field(1, ge=1, strict=True)  # independent runs per point; the median-throughput one is reported

    def load_of(self, m: ModelConfig) -> tuple[list[float] | None, bool]:
        """The rates and find_rate that apply to model `m`: its own when it
        gives either, else the sweep's."""
        return (m.rates, bool(m.find_rate)) if m.sets_load else (self.rates, self.find_rate)

    @model_validator(mode="after")
    def _load_is_complete(self):
        problems = []

        def check(rates, find, where: tuple) -> None:
            if rates is not None and find:
                problems.append((where + ("rates",), "rates and find_rate: true are both given: give rates to measure "
                                                     "those, or find_rate to search the highest rate meeting the sla"))
            elif self.load == "closed" and rates is not None:
                problems.append((where + ("rates",), "rates are open-loop arrival rates: they need load: open"))
            elif self.load == "closed" and find:
                problems.append((where + ("find_rate",), "find_rate searches open-loop rates: it needs load: open"))
            elif find and self.sla is None:
                problems.append((where + ("find_rate",), "find_rate needs the sweep's sla (e.g. sla: p99<15ms): it "
                                                         "searches the highest rate meeting it"))
            elif find and self.ci is not None:
                problems.append((("ci",), "find_rate chooses the length of each of its runs: ci applies to closed-loop "
                                          "and rates points only"))

        check(self.rates, self.find_rate, ())
        for i, m in enumerate(self.models):
            if m.sets_load:
                check(*self.load_of(m), ("models", i))
        if self.load == "open":
            unloaded = [i for i, m in enumerate(self.models) if self.load_of(m) == (None, False)]
            if unloaded and self.rates is None and not self.find_rate:
                problems.append((("load",), "open needs rates (requests/s) or find_rate: true, for the sweep or for "
                                            "each model"))
            else:
                problems += [(("models", i), "with load: open, this model needs rates or find_rate: true")
                             for i in unloaded]
        if problems:
            # Raised whole so that each problem keeps its own key (`models[1].rates`), as field errors do.
            raise ValidationError.from_exception_data("SweepConfig", [
                InitErrorDetails(type=PydanticCustomError("sweep_load", message), loc=loc, input=None)
                for loc, message in dict(problems).items()])
        return self

    @model_validator(mode="after")
    def _engine_accepts_the_runs(self):
        """Every distinct run the sweep will ask of the engine, checked by the
        engine's own validate() before anything is exported, so that no point
        fails on an option after its export (a find_rate step's rate and
        length are the search's, checked when it runs)."""
        from infermeter.bench import run_config

        rates = {r for m in self.models for r in (self.load_of(m)[0] or [])} or {None}
        threads = {t for m in self.models for t in (m.threads or self.threads)}
        for count, rate in sorted(((t, r) for t in threads for r in rates), key=str):
            try:
                run_config("sweep", device=self.device, threads=count, replicas=self.replicas, warmup_s=self.warmup,
                           duration_s=self.duration, ci=self.ci, ci_percentile=self.ci_percentile,
                           min_duration_s=self.min_duration, rate_per_s=rate, arrival=self.arrival, seed=self.seed)
            except (TypeError, ValueError) as e:
                at = f" (threads {count}" + (f", rate {rate:g}/s)" if rate is not None else ")")
                raise ValueError(f"the engine refuses this sweep's run options{at}: {e}") from None
        return self

    @model_validator(mode="after")
    def _backend_fits_device(self):
        backend = self.backend_config()
        if backend.name in COMPILING and any(p != "fp32" for m in self.models for p in (m.precisions or self.precisions)):
            raise ValueError(f"backend {backend.name!r} compiles from fp32 and chooses its own casts: "
                             "set precisions to [fp32]")
        runners = {r for m in self.models for r in (m.runners or self.runners)}
        if backend.name in COMPILING and runners != {"torchscript"}:
            raise ValueError(f"backend {backend.name!r} runs its compiled TorchScript: set runners to [torchscript]")
        if "cuda-graph" in runners and not self.device.startswith("cuda"):
            raise ValueError("runner cuda-graph replays CUDA graphs: it needs a cuda device")
        for m in self.models:
            if m.is_file and (m.name.endswith(".pt2") != ({"aoti"} == set(m.runners or self.runners))):
                raise ValueError(f"{m.name}: an AOTInductor package (.pt2) runs with runners [aoti] alone, and a "
                                 "TorchScript file with torchscript or cuda-graph")
        return self

    def backend_config(self) -> BackendConfig:
        return as_backend(BackendConfig(name=self.backend, neuron=self.neuron, neuronx=self.neuronx, eia=self.eia)
                          if self.backend else None, self.device)

    @field_validator("sla")
    @classmethod
    def _sla(cls, value):
        if value is not None:
            parse_sla(value)
        return value


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    return error["msg"].removeprefix("Value error, ")


def parse_config(doc: Any, source: str) -> SweepConfig:
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: a sweep config is a mapping of keys, got {type(doc).__name__}")
    try:
        return SweepConfig.model_validate(doc)
    except ValidationError as e:
        problems = [f"  {_location(err['loc'])}: {_message(err)}" for err in e.errors()]
        raise ConfigError(f"{source}: invalid sweep config\n" + "\n".join(problems)) from None


def load_config(path: str | Path) -> SweepConfig:
    """Reads a sweep config; a bare name (`cpu_quick`) finds a shipped one.
    TorchScript file paths in it are taken relative to the config file."""
    path = resolve_config_path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    config = parse_config(doc, str(path))
    models = [m.model_copy(update={"name": str((path.parent / m.name).resolve())}) if m.is_file else m
              for m in config.models]
    for m in models:
        if m.is_file and not Path(m.name).is_file():
            raise ConfigError(f"{path}: models: TorchScript file not found: {m.name}")
    return config.model_copy(update={"models": models})


def shipped_configs() -> Path:
    from importlib.resources import files

    return Path(str(files("infermeter") / "bench_configs"))


def resolve_config_path(path: str | Path) -> Path:
    given = Path(path)
    if given.is_file():
        return given
    for candidate in (shipped_configs() / given.name, shipped_configs() / f"{given.name}.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"sweep config not found: {path} (shipped ones: "
                      f"{', '.join(sorted(p.stem for p in shipped_configs().glob('*.yaml') if p.stem != 'instances'))})")
