"""Builds and runs the C++ unit tests (doctest): the pure C++ parts
(histogram, statistics, arrival schedules; tests/cpp) without torch, and the
engine's parts (stop rules, loads, recorder, result builder, summary, repeats,
options; tests/cpp/engine) against the engine library the install built."""

from __future__ import annotations

import re

import pytest

from cpp_build import build_cpp_target, build_engine_target, run


@pytest.mark.parametrize("build, target", [(build_cpp_target, "infermeter_cpp_tests"),
                                           (build_engine_target, "infermeter_engine_tests")])
def test_cpp_unit_tests_pass(build, target):
    binary = build(target)
    result = run([str(binary)], timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"C++ unit tests failed:\n{output}"
    summary = re.search(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed", output)
    assert summary, f"no doctest summary in the output:\n{output}"
    total, passed, failed = map(int, summary.groups())
    assert total > 0 and passed == total and failed == 0, output
    assert "Status: SUCCESS!" in output
