"""Builds and runs the C++ unit tests (tests/cpp, doctest): the engine's pure
C++ parts (histogram, statistics, arrival schedules) without torch."""

from __future__ import annotations

import re

from cpp_build import build_cpp_target, run


def test_cpp_unit_tests_pass():
    binary = build_cpp_target("infermeter_cpp_tests")
    result = run([str(binary)], timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"C++ unit tests failed:\n{output}"
    summary = re.search(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed", output)
    assert summary, f"no doctest summary in the output:\n{output}"
    total, passed, failed = map(int, summary.groups())
    assert total > 0 and passed == total and failed == 0, output
    assert "Status: SUCCESS!" in output
