"""The option table (csrc/options.cpp) is the one declaration of every run
option: each front end (infermeter-bench, `infermeter run`, sweep configs,
benchmark()) has every option under the same name, with the same default
and the same error for a bad value, or leaves it out by a declared rule."""

import subprocess

import pytest

from infermeter import _native, benchmark
from infermeter.cli import main, parser
from infermeter.options import CLI, OPTIONS, PYTHON, SWEEP, normalise
from infermeter.sweep import ConfigError, load_config
from infermeter.sweep.config import SweepConfig
from sweep_helpers import write_config

FRONTS = ("binary", CLI, SWEEP, PYTHON)


def _bad_value(option):
    """A value of the right type that the engine refuses, or None when the
    option has none (free text, flags, paths)."""
    if option.type == "choice":
        return "bogus"
    if option.type == "text":
        return "bogus!" if option.name == "device" else None
    if option.type not in ("int", "float"):
        return None
    if option.minimum is not None:
        value = option.minimum - 1
    else:
        value = option.maximum * 10
    return int(value) if option.type == "int" else float(value)


BAD = [(o, _bad_value(o)) for o in OPTIONS if _bad_value(o) is not None]


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_every_front_end_has_the_option_or_says_why_not(option):
    for front, why in option.left_out.items():
        assert front in FRONTS and len(why) > 20, (front, why)
    assert option.help and option.group and option.flag.startswith("--")


def test_binary_help_lists_the_table(bench_binary):
    text = subprocess.run([str(bench_binary), "--help"], capture_output=True, text=True, timeout=60).stdout
    for o in OPTIONS:
        assert (o.flag in text) == o.available_in("binary"), o.name


def test_cli_help_lists_the_table(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["run", "--help"])
    text = capsys.readouterr().out
    for o in OPTIONS:
        assert (o.flag in text) == o.available_in(CLI), o.name


def test_sweep_keys_and_defaults_are_the_table(tmp_path):
    fields = SweepConfig.model_fields
    defaults = normalise({})
    for o in OPTIONS:
        key = o.sweep_axis or o.name
        assert (key in fields) == o.available_in(SWEEP), o.name
        if not o.available_in(SWEEP):
            continue
        default = fields[key].default
        if o.sweep_axis:
            expected = o.sweep_default if o.sweep_default is not None else defaults[o.name]
            assert default == (None if expected is None else [expected]), o.name
        elif default is not None:
            assert default == defaults[o.name], o.name


def test_a_sweep_without_duration_runs_to_the_engines_default(tmp_path, linear_model):
    """Fixed: a sweep's ci with no duration used to stop at 5 s at most,
    where benchmark() and `infermeter run` allow 60."""
    config = load_config(_ci_config(tmp_path, linear_model))
    assert config.duration is None
    from infermeter.sweep.grid import expand

    point = expand(config)[0]
    assert normalise(config.given_options() | point.options())["duration"] == 60.0 == normalise({"ci": 0.05})[
        "duration"]


def _ci_config(tmp_path, model):
    path = tmp_path / "ci.yaml"
    path.write_text(f"name: t\nci: 0.05\nmodels: [{{name: '{model}'}}]\n")
    return path


def _binary_error(bench_binary, model, option, value) -> str:
    proc = subprocess.run([str(bench_binary), str(model), option.flag, str(value), "--no-calibrate"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    return proc.stderr.strip().removeprefix("infermeter-bench: ")


def _cli_error(capsys, model, option, value) -> str:
    assert main(["run", str(model), option.flag, str(value)]) == 2
    return capsys.readouterr().err.strip().removeprefix("infermeter: ")


def _python_error(model, option, value) -> str:
    with pytest.raises(ValueError) as caught:
        benchmark(model, **{option.name: value})
    return str(caught.value)


def _sweep_error(tmp_path, model, option, value) -> str:
    key = option.sweep_axis or option.name
    path = write_config(tmp_path / f"{option.name}.yaml", models=[{"name": str(model)}], **{key: value})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line = next(line for line in str(caught.value).splitlines() if line.strip().startswith(key))
    return line.split(": ", 1)[1]


@pytest.mark.parametrize("option, value", BAD, ids=[o.name for o, _ in BAD])
def test_a_bad_value_gets_the_same_error_everywhere(option, value, bench_binary, linear_model, capsys, tmp_path):
    expected = str(pytest.raises(ValueError, _native.check_option_value, option.name, value).value)
    assert option.name in expected
    errors = {}
    if option.available_in("binary"):
        errors["binary"] = _binary_error(bench_binary, linear_model, option, value)
    if option.available_in(CLI):
        errors[CLI] = _cli_error(capsys, linear_model, option, value)
    if option.available_in(PYTHON):
        errors[PYTHON] = _python_error(linear_model, option, value)
    if option.available_in(SWEEP):
        errors[SWEEP] = _sweep_error(tmp_path, linear_model, option, value)
    assert errors and set(errors.values()) == {expected}, errors


def test_options_left_out_of_a_front_end_say_why(linear_model):
    with pytest.raises(ValueError, match="json does not apply here: benchmark\\(\\) returns the Result"):
        benchmark(linear_model, json="out.json")
    with pytest.raises(TypeError, match="unknown option 'thread'"):
        benchmark(linear_model, thread=2)
