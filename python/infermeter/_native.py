"""Loads the compiled engine; torch must be imported first so that its
libraries are in the process before the extension links against them."""

import torch  # noqa: F401

from infermeter._core import (PERCENTILE_KEYS, RESULT_SCHEMA, EngineError, ExplicitInput,  # noqa: E402
                              OutOfMemoryError, RunConfig, _Interrupted, arrival_offsets, build_python_loop_result, console_summary, format_duration_ns,
                              min_samples_for_percentile, repeat_summary, run, runner_names)

__all__ = ["PERCENTILE_KEYS", "RESULT_SCHEMA", "EngineError", "ExplicitInput", "OutOfMemoryError", "RunConfig", "_Interrupted", "arrival_offsets",
           "build_python_loop_result", "console_summary", "format_duration_ns",
           "min_samples_for_percentile", "repeat_summary", "run", "runner_names"]
