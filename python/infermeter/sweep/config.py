"""Sweep configs: YAML validated by pydantic. Every error names the file and
the key (`models[1].seq_len`), so a typo never starts a half-wrong sweep."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError,
                      create_model, model_validator)
from pydantic_core import InitErrorDetails, PydanticCustomError

from infermeter import zoo
from infermeter.backends import BACKENDS, COMPILING, BackendConfig, EiaOptions, as_backend
from infermeter.backends.neuron import NeuronOptions
from infermeter.backends.neuronx import NeuronxOptions
from infermeter.precisions import PRECISIONS
from infermeter.options import BY_NAME, SWEEP, Option, check_value, for_front, normalise
from infermeter.sla import parse_sla
from infermeter.sweep.load import BATCHER_AXES, ModelLoad, load_problems, model_load
from infermeter.units import format_long_duration

Precision = Literal[PRECISIONS]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _distinct(values: list) -> list:
    repeated = [v for i, v in enumerate(values) if v in values[:i]]
    if repeated:
        raise ValueError(f"{repeated[0]:g} is given twice" if isinstance(repeated[0], float)
                         else f"{repeated[0]!r} is given twice")
    return values


def _derived(o: Option) -> bool:
    """Whether the engine derives the option's default from the others (load, duration)."""
    return o.default is None and bool(o.default_text) and not o.nullable or o.name == "duration"


def _checked(name: str, value):
    """The engine's own check of one option's value, so its error is the one
    every front end gives. None leaves an option whose default the engine
    derives (load, duration) to the engine, as leaving it out does."""
    if value is None and _derived(BY_NAME[name]):
        return None
    return check_value(name, value)


def _sla(value):
    if value is not None:
        parse_sla(value)
    return value


def _option_field(o: Option):
    """A sweep key for option `o`: one value, or for an axis one value or a
    list of distinct values, each checked by the engine."""
    one = Annotated[Any, BeforeValidator(partial(_checked, o.name))]
    if o.name == "sla":
        one = Annotated[one, AfterValidator(_sla)]
    if o.sweep_axis:
        default = [o.sweep_default if o.sweep_default is not None else o.default]
        default = None if default == [None] else default
        return o.sweep_axis, (Annotated[list[one], BeforeValidator(_as_list), Field(min_length=1),
                                        AfterValidator(_distinct)] | None, default)
    # Unset where the engine derives the default (the duration from the stop asked for).
    return o.name, (one, None if _derived(o) else o.default)


OPTION_FIELDS = dict(_option_field(o) for o in for_front(SWEEP))
AXES = {o.sweep_axis: o.name for o in for_front(SWEEP) if o.sweep_axis}  # sweep key -> option
Precisions = Annotated[list[Precision], BeforeValidator(_as_list), Field(min_length=1)]


# A model named with one of these is a file (TorchScript, or an AOTInductor .pt2), else a zoo name.
MODEL_FILE_SUFFIXES = (".pt", ".pth", ".ts", ".pt2")
# The most points a sweep runs unless its config's max_points says more: a grid
# past it is more often an axis mistyped than weeks of measuring meant.
MAX_POINTS = 10_000
# The run options that decide how long a point measures (the others, such as
# the load, are the points' to complete).
TIMING_OPTIONS = ("warmup", "duration", "requests", "ci", "min_duration", "repeat")


class ConfigError(ValueError):
    """A sweep or price file that does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ModelBase(_Strict):
    """One model of a sweep: a zoo name (tv:/hf: included) or a TorchScript
    file, with the values of its own options to sweep over, and its own
    values of the sweep's axes (batch_sizes, threads, runners, rates,
    max_batches, ...), load and find_rate, replacing the sweep's for it (how
    the load keys combine: sweep/load.py)."""

    name: str
    seq_len: Annotated[list[Annotated[int, Field(gt=0, strict=True)]], BeforeValidator(_as_list),
                       Field(min_length=1)] | None = None
    resolution: Annotated[list[Annotated[int, Field(gt=0, strict=True)]], BeforeValidator(_as_list),
                          Field(min_length=1)] | None = None
    weights: str | None = None
    options: dict[str, Any] = {}
    precisions: Precisions | None = None
    find_rate: StrictBool | None = None
    method: Literal["trace", "script"] = "trace"
    freeze: bool = True  # exports are frozen, as deployments ship them
    # AOTInductor packages (runners aoti, aoti-graph): one per batch size with
    # static shapes, and Inductor's max-autotune (export()'s options).
    static_batch: bool = False
    max_autotune: bool = False

    @property
    def is_file(self) -> bool:
        return self.name.endswith(MODEL_FILE_SUFFIXES)

    def axis(self, key: str) -> list | None:
        """This model's own values of the sweep axis `key`; None: the sweep's."""
        return getattr(self, key)

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


ModelConfig = create_model("ModelConfig", __base__=_ModelBase,
                           **{key: (OPTION_FIELDS[key][0], None) for key in (*AXES, "load")})


class _SweepBase(_Strict):
    """A sweep: its models, the precisions they are exported in, and every
    run option of the engine's table under its own name (one value) or its
    axis (batch_sizes, threads, runners, rates: one value or a list), checked
    by the engine; how the options combine is the engine's to judge too
    (_engine_accepts_the_runs)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    instance: str | None = None
    backend: Literal[BACKENDS] | None = None  # default: cpu, or cuda for a cuda device
    neuron: NeuronOptions = NeuronOptions()
    neuronx: NeuronxOptions = NeuronxOptions()
    eia: EiaOptions = EiaOptions()
    models: list[ModelConfig] = Field(min_length=1)
    precisions: Precisions = ["fp32"]
    max_points: int = Field(MAX_POINTS, gt=0, strict=True)
    # How a point's `repeat` runs are spread: "rounds" runs the whole grid
    # `repeat` times over, so a point's runs lie apart across the sweep's
    # span (its interval then includes the drift of minutes, which runs back
    # to back leave out: docs/intervals.md); "back-to-back" runs them one
    # after another at the point.
    repeat_spacing: Literal["rounds", "back-to-back"] = "rounds"

    def given_options(self) -> dict:
        """The run options this config gives (not their axes), by name."""
        return {key: getattr(self, key) for key in self.model_fields_set
                if key in BY_NAME and key not in AXES.values() and key in OPTION_FIELDS
                and not (getattr(self, key) is None and _derived(BY_NAME[key]))}

    def axis_of(self, m, key: str) -> list | None:
        """The values of axis `key` for model `m`: its own, else the sweep's;
        rates as its load has them, and the batcher's axes only under
        dynamic batching (None: the axis does not apply)."""
        if key == "rates":
            return self.load_of(m).rates
        if key in BATCHER_AXES and not self.load_of(m).batching:
            return None
        own = m.axis(key)
        return own if own is not None else getattr(self, key)

    def load_of(self, m) -> ModelLoad:
        """The load, rates and find_rate that apply to model `m` (sweep/load.py)."""
        return model_load(self, m)

    @property
    def step_duration(self) -> float:
        """A rate search's shortest step: the sweep's duration, or the engine's default one."""
        return self.duration if self.duration is not None else normalise({})["duration"]

    def time_estimate(self, points: int) -> tuple[float, str]:
        """How long measuring `points` points takes (s), and that said:
        "20,000 points, about 1.4 days (1 s warm-up + 5 s duration each)".
        Each point's warm-up and duration (with ci, the most it may take; with
        only requests to stop on, none), times its repeats; exports, compiles
        and a rate search's further steps come on top."""
        options = normalise({k: v for k, v in self.given_options().items() if k in TIMING_OPTIONS})
        duration = options["duration"] or 0.0
        seconds = points * (options["warmup"] + duration) * options["repeat"]
        measured = (f"{options['requests']} requests" if options["duration"] is None else
                    f"{'up to ' if options['ci'] is not None else ''}{duration:g} s duration")
        each = f"{options['warmup']:g} s warm-up + {measured}" + (
            f", {options['repeat']} repeats" if options["repeat"] > 1 else "")
        return seconds, f"{points:,} point{'s' * (points != 1)}, about {format_long_duration(seconds)} ({each} each)"

    @model_validator(mode="after")
    def _name_is_a_folder(self):
        if self.name in (".", ".."):
            raise ValueError(f"name {self.name!r} would write outside the results folder: give the sweep a name")
        return self

    @model_validator(mode="after")
    def _load_is_complete(self):
        problems = load_problems(self)
        if problems:
            # Raised whole so that each problem keeps its own key (`models[1].rates`), as field errors do.
            raise ValidationError.from_exception_data("SweepConfig", [
                InitErrorDetails(type=PydanticCustomError("sweep_load", message), loc=loc, input=None)
                for loc, message in problems.items()])
        return self

    @model_validator(mode="after")
    def _grid_within_max_points(self):
        """Before the engine's check of each run (the validators run in this
        order): a grid too large is refused from its axes' lengths at once."""
        from infermeter.sweep.grid import point_count  # grid.py builds on this module

        count = point_count(self)
        if count > self.max_points:
            problem = (f"the grid has {self.time_estimate(count)[1]}, more than max_points ({self.max_points:,}): "
                       f"check the axes for a mistake, or set max_points: {count} to run it")
            raise ValidationError.from_exception_data("SweepConfig", [
                InitErrorDetails(type=PydanticCustomError("sweep_size", problem), loc=("max_points",), input=None)])
        return self

    @model_validator(mode="after")
    def _engine_accepts_the_runs(self):
        """Every distinct run the sweep will ask of the engine, checked by the
        engine's own normalise step before anything is exported, so that no
        point fails on an option after its export (a find_rate step's rate and
        length are the search's, checked when it runs)."""
        given = {k: v for k, v in self.given_options().items() if k not in ("find_rate", "sla", "rate_precision")}
        runs = set()
        for m in self.models:
            load = self.load_of(m)
            if load.find_rate:
                continue
            # Batch sizes concern the engine's checks only under dynamic batching: a request must fit in max_batch.
            skip = ("runners",) if load.batching else ("batch_sizes", "runners")
            own = (("load", m.load),) if m.load else ()
            runs |= {tuple(sorted([*((AXES[key], v) for key, v in combo), *own], key=str))
                     for combo in _axis_combinations(self, m, skip=skip)}
        for run in sorted(runs, key=str):
            try:
                normalise(given | dict(run))
            except (TypeError, ValueError) as e:
                at = ", ".join(f"{k} {v}" for k, v in run)
                raise ValueError(f"the engine refuses this sweep's run options{f' ({at})' if at else ''}: {e}") from None
        return self

    @model_validator(mode="after")
    def _backend_fits_device(self):
        backend = self.backend_config()
        if backend.name in COMPILING and any(p != "fp32" for m in self.models for p in (m.precisions or self.precisions)):
            raise ValueError(f"backend {backend.name!r} compiles from fp32 and chooses its own casts: "
                             "set precisions to [fp32]")
        runners = {r for m in self.models for r in self.axis_of(m, "runners")}
        if backend.name in COMPILING and runners != {"torchscript"}:
            raise ValueError(f"backend {backend.name!r} runs its compiled TorchScript: set runners to [torchscript]")
        if "cuda-graph" in runners and not self.device.startswith("cuda"):
            raise ValueError("runner cuda-graph replays CUDA graphs: it needs a cuda device")
        for m in self.models:
            if m.is_file and (m.name.endswith(".pt2") != ({"aoti"} == set(self.axis_of(m, "runners")))):
                raise ValueError(f"{m.name}: an AOTInductor package (.pt2) runs with runners [aoti] alone, and a "
                                 "TorchScript file with torchscript or cuda-graph")
        return self

    def backend_config(self) -> BackendConfig:
        return as_backend(BackendConfig(name=self.backend, neuron=self.neuron, neuronx=self.neuronx, eia=self.eia)
                          if self.backend else None, self.device)


def _axis_combinations(config, m, skip=()) -> list[tuple[tuple[str, Any], ...]]:
    """Every combination of model `m`'s axis values (rates only when given),
    as ((axis key, value), ...)."""
    from itertools import product

    keys = [key for key in AXES if key not in skip and config.axis_of(m, key) is not None]
    return [tuple(zip(keys, values)) for values in product(*(config.axis_of(m, key) for key in keys))]


SweepConfig = create_model("SweepConfig", __base__=_SweepBase, **OPTION_FIELDS)


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


class DuplicateKey(yaml.YAMLError):
    """A mapping of a YAML file gives one key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader (no tags beyond YAML's own), refusing a key given
    twice in one mapping: the plain loader keeps the last value, so a
    repeated key would silently drop the values above it."""

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # unhashable keys are the safe loader's to refuse
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                # Keys merged in may be overridden here, but a second `<<` silently drops the first's.
                key, hint = "<<", " (merge several mappings with one: <<: [*a, *b])"
            else:
                key, hint = self.construct_object(key_node), ""
            if key in first_line:
                raise DuplicateKey(f"line {line}: key {key!r} is given twice (first on line {first_line[key]}){hint}")
            first_line[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: Path):
    """The document of YAML file `path`, refusing a key given twice
    (`DuplicateKey`, naming the key and its lines)."""
    return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)


def load_config(path: str | Path) -> SweepConfig:
    """Reads a sweep config; a bare name (`cpu_quick`) finds a shipped one.
    TorchScript file paths in it are taken relative to the config file."""
    path = resolve_config_path(path)
    try:
        doc = read_yaml(path)
    except DuplicateKey as e:
        raise ConfigError(f"{path}, {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    config = parse_config(doc, str(path))
    models = [m.model_copy(update={"name": str((path.parent / m.name).resolve())}) if m.is_file else m
              for m in config.models]
    for m in models:
        if m.is_file and Path(m.name).is_dir():
            raise ConfigError(f"{path}: models: {m.name} is a directory, not a model file")
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
