"""Loads the compiled engine; torch must be imported first so that its
libraries are in the process before the extension links against them."""

import torch  # noqa: F401

from infermeter._core import (BACK_TO_BACK, PERCENTILE_KEYS, RESULT_SCHEMA, EngineError, ExplicitInput,  # noqa: E402
                              OutOfMemoryError, _Interrupted, arrival_offsets, capture_sizes, check_option_value,
                              check_output_paths, combine_repeats, console_summary, format_duration_ns,
                              min_samples_for_percentile, normalise_options, option_table, parse_option_text,
                              percentile_rank_interval, result_from_timings, run, run_python_model, runner_names,
                              untrusted_package_reason, write_file_atomically, write_interval_log)

__all__ = ["BACK_TO_BACK", "PERCENTILE_KEYS", "RESULT_SCHEMA", "EngineError", "ExplicitInput", "OutOfMemoryError",
           "_Interrupted", "arrival_offsets", "capture_sizes", "check_option_value", "check_output_paths",
           "combine_repeats", "console_summary", "format_duration_ns", "min_samples_for_percentile",
           "normalise_options", "option_table", "parse_option_text", "percentile_rank_interval", "result_from_timings",
           "run", "run_python_model", "runner_names", "untrusted_package_reason", "write_file_atomically",
           "write_interval_log"]
