"""The load each model of a sweep runs under, and what makes it incomplete.

A model's load is its own `load`, else the sweep's (closed when neither
gives one). Its rates and find_rate go together: its own when it gives
either, else the sweep's; a model whose own load is closed takes none of
the sweep's, so that one sweep can hold closed-loop models beside loaded
ones. The batcher's axes (max_batches, max_queue_delays) apply to
dynamic-batching models only."""

from __future__ import annotations

from dataclasses import dataclass

from infermeter.options import ARRIVAL_LOADS, BATCHER_OPTIONS, DYNAMIC_BATCHING, OPTIONS

# The sweep keys that set the dynamic batcher: its axes and its one-value options.
BATCHER_KEYS = tuple(o.sweep_axis or o.name for o in OPTIONS if o.name in BATCHER_OPTIONS)
BATCHER_AXES = tuple(o.sweep_axis for o in OPTIONS if o.name in BATCHER_OPTIONS and o.sweep_axis)
ARRIVAL_TEXT = " or ".join(ARRIVAL_LOADS)


@dataclass(frozen=True)
class ModelLoad:
    kind: str  # closed, open or dynamic-batching
    rates: list[float] | None
    find_rate: bool
    own_rates: bool  # the rates and find_rate are the model's own, not the sweep's

    @property
    def batching(self) -> bool:
        return self.kind == DYNAMIC_BATCHING


def model_load(config, m) -> ModelLoad:
    """The load, rates and find_rate that apply to model `m` of `config`."""
    kind = m.load or config.load or "closed"
    if m.rates is not None or m.find_rate is not None:
        return ModelLoad(kind, m.rates, bool(m.find_rate), True)
    if m.load == "closed":
        return ModelLoad(kind, None, False, False)
    return ModelLoad(kind, config.rates, bool(config.find_rate), False)


def load_problems(config) -> dict[tuple, str]:
    """Each problem of the sweep's loads, by the key it is reported at (the
    one given, the model's own or the sweep's): a message each."""
    problems: dict[tuple, str] = {}
    loads = [model_load(config, m) for m in config.models]
    for i, (m, load) in enumerate(zip(config.models, loads)):
        where = ("models", i) if load.own_rates else ()
        arrivals = load.kind in ARRIVAL_LOADS
        if load.rates is not None and load.find_rate:
            problems[where + ("rates",)] = ("rates and find_rate: true are both given: give rates to measure those, "
                                            "or find_rate to search the highest rate meeting the sla")
        elif not arrivals and load.rates is not None:
            problems[where + ("rates",)] = f"rates are arrival rates: they need load: {ARRIVAL_TEXT}"
        elif not arrivals and load.find_rate:
            problems[where + ("find_rate",)] = f"find_rate searches arrival rates: it needs load: {ARRIVAL_TEXT}"
        elif load.find_rate and config.sla is None:
            problems[where + ("find_rate",)] = ("find_rate needs the sweep's sla (e.g. sla: p99<15ms): it searches "
                                                "the highest rate meeting it")
        elif load.find_rate and config.ci is not None:
            problems[("ci",)] = ("find_rate chooses the length of each of its runs: ci applies to closed-loop and "
                                 "rates points only")
        elif arrivals and load.rates is None and not load.find_rate:
            if load.own_rates or m.load:
                problems[("models", i)] = f"with load: {load.kind}, this model needs rates or find_rate: true"
            else:
                problems[("load",)] = (f"{load.kind} needs rates (requests/s) or find_rate: true, for the sweep or "
                                       "for each model")
        if not load.batching:
            problems |= {("models", i, key): f"{key} sets the dynamic batcher: it needs load: {DYNAMIC_BATCHING}"
                         for key in BATCHER_AXES if m.axis(key) is not None}
    if all(load.own_rates or m.load == "closed" for load, m in zip(loads, config.models)):
        problems |= {(key,): f"no model takes the sweep's {key}: each gives its own rates, find_rate or load: closed"
                     for key in ("rates", "find_rate") if getattr(config, key)}
    if not any(load.batching for load in loads):
        # A default value is no setting: a config written back whole (sweep.json) states every key.
        defaults = type(config).model_fields
        problems |= {(key,): f"{key} sets the dynamic batcher: it needs load: {DYNAMIC_BATCHING} (for the sweep or "
                             "a model)"
                     for key in BATCHER_KEYS if getattr(config, key) != defaults[key].default}
    return problems
