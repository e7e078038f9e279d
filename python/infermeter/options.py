"""The engine's option table (csrc/options.cpp), as the Python front ends use
it: `infermeter run`'s arguments, the sweep config's keys and
`benchmark(**options)` are all built from it, so an option has one name,
default and error everywhere. Values are checked and defaulted by the engine
(`normalise`), never here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from infermeter import _native

CLI, SWEEP, PYTHON = "cli", "sweep", "python"


@dataclass(frozen=True)
class Option:
    name: str
    flag: str
    type: str  # int, float, text, choice, flag, paths
    group: str
    help: str
    unit: str
    metavar: str
    nullable: bool
    default: Any
    default_text: str
    choices: tuple[str, ...] | None
    minimum: float | None
    maximum: float | None
    bound_reason: str
    left_out: dict[str, str]  # front end -> why it leaves the option out
    sweep_axis: str | None  # the sweep key listing its values, when it is an axis
    sweep_default: Any  # the axis's own default where the option's is unset (None: the option's)
    run_option: bool  # the engine reads it (else a front end acts on it: repeat, json, the rate search)

    def available_in(self, front: str) -> bool:
        return front not in self.left_out

    def help_text(self, front: str = CLI) -> str:
        """Its help with its choices, unit and default, as `front` shows it
        (on the command line as the binary's --help does)."""
        text = self.help + (f" {{{', '.join(self.choices)}}}" if self.choices else "")
        text += f", {self.unit}" if self.unit else ""
        if self.type == "flag":
            return text + (" (on unless this is given)" if self.flag.startswith("--no-") and front == CLI
                           else "" if front == CLI else f" (default {self.default})")
        if self.default_text:
            return f"{text} (default {self.default_text})"
        if self.type != "flag" and self.default not in (None, []):
            return f"{text} (default {self.default:g})" if isinstance(self.default, float) else \
                f"{text} (default {self.default})"
        return text


def _load() -> tuple[Option, ...]:
    return tuple(Option(o["name"], o["flag"], o["type"], o["group"], o["help"], o["unit"], o["metavar"],
                        o["nullable"], o["default"], o["default_text"],
                        tuple(o["choices"]) if o["choices"] is not None else None, o["min"], o["max"],
                        o["bound_reason"], o["left_out"], o["sweep_axis"], o["sweep_default"], o["run_option"])
                 for o in _native.option_table())


OPTIONS: tuple[Option, ...] = _load()
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}


def for_front(front: str) -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS if o.available_in(front))


def refuse_left_out(given: dict, front: str) -> None:
    """A ValueError for an option this front end leaves out, with the declared
    reason, and a TypeError for a name that is no option at all."""
    for name in given:
        option = BY_NAME.get(name)
        if option is None:
            raise TypeError(f"unknown option {name!r} (known: {', '.join(o.name for o in for_front(front))})")
        if not option.available_in(front):
            raise ValueError(f"{name} does not apply here: {option.left_out[front]}")


def check_value(name: str, value):
    """One option's value checked by the engine (type, choices, bounds); ValueError otherwise."""
    return _native.check_option_value(name, value)


def normalise(given: dict) -> dict:
    """Every option, the given ones checked and the others defaulted, by the
    engine (the one normalise step); ValueError naming the option otherwise."""
    return _native.normalise_options(given)


def run_options(options: dict) -> dict:
    """The options the engine reads, out of a normalised set."""
    return {name: value for name, value in options.items() if BY_NAME[name].run_option}


def add_arguments(parser: argparse.ArgumentParser, front: str = CLI) -> None:
    """An argument per option of `front`, under its group. Values stay text
    (or True/False for flags) and are parsed by the engine (`given_options`),
    so their errors are the binary's; an option left out of the command line
    is absent from the namespace, so that the engine's defaults apply."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for o in for_front(front):
        group = groups.setdefault(o.group, parser.add_argument_group(f"{o.group} options"))
        common = {"dest": o.name, "default": argparse.SUPPRESS, "help": o.help_text(front).replace("%", "%%")}
        if o.type == "flag":
            group.add_argument(o.flag, action="store_false" if o.flag.startswith("--no-") else "store_true",
                               **common)
        elif o.type == "paths":
            group.add_argument(o.flag, action="append", metavar=o.metavar, **common)
        else:
            group.add_argument(o.flag, metavar=o.metavar, **common)


def given_options(args: argparse.Namespace, front: str = CLI) -> dict:
    """The options given on the command line, typed and checked by the engine,
    so a bad value is named before any rule about option combinations."""
    given = {}
    for o in for_front(front):
        if not hasattr(args, o.name):
            continue
        value = getattr(args, o.name)
        if o.type == "paths":
            value = [path for text in value for path in _native.parse_option_text(o.name, text)]
        elif o.type != "flag":
            value = _native.parse_option_text(o.name, value)
        given[o.name] = check_value(o.name, value)
    return given


def document(front: str = PYTHON) -> str:
    """The options of `front` as a docstring section."""
    lines = []
    for o in for_front(front):
        lines.append(f"    {o.name}: {o.help_text(front)}")
    return "\n".join(lines)


# The loads whose requests arrive on a schedule, at a `rate` (the engine's is_open).
ARRIVAL_LOADS = ("open", "dynamic-batching")
DYNAMIC_BATCHING = "dynamic-batching"
# Options that shape a dynamic-batching run only (the engine's is_batching):
# the engine takes them with any load and ignores them elsewhere.
BATCHER_OPTIONS = ("max_batch", "max_queue_delay", "preferred_batches", "capture_batches")
# Options of one measurement, which a rate search chooses itself: it sets each
# step's rate and length and measures it once. Its load (open or
# dynamic-batching) is the caller's.
STEP_OPTIONS = ("rate", "duration", "requests", "ci", "ci_percentile", "min_duration", "repeat")
# The rate search's own options (find_rate.py), which benchmark() does not take.
SEARCH_OPTIONS = ("find_rate", "sla", "rate_precision")
