"""Builds programs from tests/cpp (the doctest unit tests and test-only tools)
with cmake, without torch. The build lives in build/cpp-tests and is reused,
so a rerun only recompiles what changed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "cpp"
BUILD = ROOT / "build" / "cpp-tests"


def run(cmd: list[str], timeout: float, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


def build_cpp_target(target: str) -> Path:
    """Builds only `target` (so a test waits for nothing it does not run) and
    returns the path of its executable."""
    cmake = shutil.which("cmake")
    assert cmake, "cmake is not on PATH: `pip install cmake ninja` (the project's build needs it too)"
    if not (BUILD / "CMakeCache.txt").exists():
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        configured = run([cmake, "-S", str(SOURCE), "-B", str(BUILD), *generator], timeout=60)
        assert configured.returncode == 0, f"configuring tests/cpp failed:\n{configured.stdout}\n{configured.stderr}"
    built = run([cmake, "--build", str(BUILD), "--target", target, "--parallel", "2"], timeout=180)
    assert built.returncode == 0, f"building {target} from tests/cpp failed:\n{built.stdout}\n{built.stderr}"
    return BUILD / target
