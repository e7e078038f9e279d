"""Untrusted packages: an AOTInductor .pt2 holds native libraries whose code
runs when it is loaded, so the engine loads one without `trust` only when
every library is one infermeter's export recorded (by SHA-256), and every
recorded library is there. A package from elsewhere, one whose library was
changed, or one without its library (torch's loader would compile its sources
with the command it names) is refused before anything is loaded; `trust=True`
(`--trust`) loads it. A record named twice is refused even when trusted. Every result records the model
file's SHA-256, whatever its format."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
import torch

import infermeter
from tampered_package import rewritten, with_a_second_library

QUICK = dict(duration=0.2, warmup=0, calibrate=False)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("trust") / "mlp.pt2"
    infermeter.export(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU()).eval(), path,
                      inputs=torch.rand(1, 8), format="aoti")
    return path


def test_a_package_infermeter_exported_loads_and_its_digest_is_recorded(package):
    facts = json.loads(infermeter.aoti_export.read_package_facts(package)[1])
    assert facts["native_libraries"] and all(len(d) == 64 for d in facts["native_libraries"].values())
    r = infermeter.benchmark(str(package), runner="aoti", **QUICK)
    assert r.requests > 0
    assert r.model["sha256"] == hashlib.sha256(package.read_bytes()).hexdigest()


def test_a_changed_library_is_refused_unless_trusted(package, tmp_path):
    # A byte appended to the library: the ELF still loads, but it is not what the export recorded.
    changed = rewritten(package, tmp_path / "changed.pt2", change_library=lambda b: b + b"\0")
    with pytest.raises(ValueError, match="native library .* is not the one infermeter's export recorded.*--trust"):
        infermeter.benchmark(str(changed), runner="aoti", **QUICK)
    assert infermeter.benchmark(str(changed), runner="aoti", trust=True, **QUICK).requests > 0


def test_a_package_from_elsewhere_is_refused_unless_trusted(package, tmp_path):
    foreign = rewritten(package, tmp_path / "foreign.pt2", drop_facts=True)
    with pytest.raises(ValueError, match="was not exported by infermeter"):
        infermeter.benchmark(str(foreign), runner="aoti", **QUICK)
    assert infermeter.benchmark(str(foreign), runner="aoti", trust=True, **QUICK).requests > 0


def test_a_package_without_its_library_is_refused_before_its_compile_command_runs(package, tmp_path):
    """Without its library torch's loader compiles the package's sources with
    the compiler the package's flags name, through the shell: code run on
    load. The trusted load shows the command does run (and then fails to
    build); the untrusted one is refused before it."""
    marker = tmp_path / "compiler-ran"
    stripped = rewritten(package, tmp_path / "stripped.pt2", compile_command=f"touch {marker}; false")
    with pytest.raises(ValueError, match="wrapper.so, which infermeter's export recorded, is missing"):
        infermeter.benchmark(str(stripped), runner="aoti", **QUICK)
    assert not marker.exists()
    with pytest.raises(infermeter.EngineError, match="cannot load AOTInductor package"):
        infermeter.benchmark(str(stripped), runner="aoti", trust=True, **QUICK)
    assert marker.exists()


def test_a_record_named_twice_is_refused_even_when_trusted(package, tmp_path):
    twice = with_a_second_library(package, tmp_path / "twice.pt2")
    for trust in (False, True):
        with pytest.raises(infermeter.EngineError, match=r"holds two records named .*wrapper\.so"):
            infermeter.benchmark(str(twice), runner="aoti", trust=trust, **QUICK)


def test_the_binary_refuses_it_in_one_line_and_trust_loads_it(package, tmp_path):
    foreign = rewritten(package, tmp_path / "foreign.pt2", drop_facts=True)
    refused = subprocess.run(["infermeter-bench", str(foreign), "--runner", "aoti", "--duration", "0.2",
                              "--warmup", "0", "--no-calibrate"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "will not be loaded" in refused.stderr and "Traceback" not in refused.stderr
    trusted = subprocess.run(["infermeter-bench", str(foreign), "--runner", "aoti", "--duration", "0.2",
                              "--warmup", "0", "--no-calibrate", "--trust"], capture_output=True, text=True,
                             timeout=120)
    assert trusted.returncode == 0, trusted.stderr


def test_torchscript_needs_no_trust_and_records_its_digest(tmp_path):
    path = tmp_path / "linear.pt"
    infermeter.export(torch.nn.Linear(4, 4).eval(), path, inputs=torch.rand(1, 4))
    r = infermeter.benchmark(str(path), **QUICK)
    assert r.model["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
