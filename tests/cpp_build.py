"""Builds programs from tests/cpp: the pure C++ unit tests and test-only tools
with cmake, without torch, in build/cpp-tests (reused, so a rerun only
recompiles what changed); the engine's unit tests in the build folder the
editable install left (they link the engine library already built there)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
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


def engine_build_folder() -> Path:
    """The build folder of this Python's editable install (pyproject.toml's
    build-dir, build/{wheel_tag})."""
    version = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return ROOT / "build" / f"{version}-{version}-{platform}"


def build_engine_target(target: str) -> Path:
    """Builds `target` of the project's own CMakeLists (one left out of the
    install) in the install's build folder and returns its executable."""
    folder = engine_build_folder()
    assert (folder / "CMakeCache.txt").exists(), (
        f"no build folder at {folder}: install first (`make install`, an editable install keeps it)")
    built = run([shutil.which("cmake") or "cmake", "--build", str(folder), "--target", target, "--parallel", "2"],
                timeout=600)
    assert built.returncode == 0, f"building {target} failed:\n{built.stdout}\n{built.stderr}"
    return folder / target
