"""Loads the compiled engine; torch must be imported first so that its
libraries are in the process before the extension links against them."""

import torch  # noqa: F401

from infermeter._core import (EngineError, ExplicitInput, OutOfMemoryError, RunConfig, _Interrupted,  # noqa: E402
                              build_python_loop_result, console_summary, format_duration_ns, run,
                              runner_names)

__all__ = ["EngineError", "ExplicitInput", "OutOfMemoryError", "RunConfig", "_Interrupted",
           "build_python_loop_result", "console_summary", "format_duration_ns", "run", "runner_names"]
