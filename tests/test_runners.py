"""Runner choice everywhere (Python, CLI, binary, sweep), AOTInductor
packages measured end to end on the CPU, and the refusals a runner gives
where it cannot run."""

import json
import shutil
import subprocess
import zipfile

import pytest
import torch

import infermeter
from infermeter import _native
from infermeter.aoti_export import models_link_cxx_runtime
from infermeter.cli import main
from infermeter.elf_needs import needed_libraries
from infermeter.sweep import load_config, run_sweep
from infermeter.sweep.store import ResultsFile
from sweep_helpers import write_config

QUICK = dict(warmup=0.05, calibrate=False)


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).eval()


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """One AOTInductor package for every test here: compiling takes tens of seconds."""
    path = tmp_path_factory.mktemp("aoti") / "mlp.pt2"
    infermeter.export(mlp(), path, inputs=torch.rand(1, 8), format="aoti", input_names=["features"])
    return path


def test_every_runner_is_known_to_the_build():
    assert set(_native.runner_names()) == {"torchscript", "cuda-graph", "aoti", "aoti-graph"}


def test_aoti_package_is_measured_end_to_end(package):
    result = infermeter.benchmark(package, runner="aoti", batch_size=4, threads=2, duration=0.3, **QUICK)
    assert result.runner == "aoti" and result.requests > 10
    assert result.model["format"] == "aoti" and result.model["export"]["format"] == "aoti"
    assert result.model["inputs"] == [{"name": "features", "shape": [4, 8], "dtype": "Float"}]
    assert result.config["batch_size"] == 4 and result.latency.p50 > 0
    # The package's own outputs were checked against eager fp32 at export.
    assert result.model["export"]["max_rel_error"] <= 1e-4


@pytest.mark.parametrize("replicas", ["per-thread", "shared"])
def test_aoti_replicas(package, replicas):
    result = infermeter.benchmark(package, runner="aoti", threads=2, replicas=replicas, duration=None,
                                  requests=200, **QUICK)
    assert result.requests == 200 and result.config["replicas"] == replicas


def test_binary_and_cli_take_the_runner(package, bench_binary, tmp_path, capsys):
    out = tmp_path / "r.json"
    proc = subprocess.run([str(bench_binary), str(package), "--runner", "aoti", "--requests", "50", "--warmup", "0",
                           "--no-calibrate", "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["config"]["runner"] == "aoti" and "runner aoti" in proc.stdout
    assert main(["run", str(package), "--runner", "aoti", "--requests", "50", "--warmup", "0", "--no-calibrate"]) == 0
    assert "runner aoti" in capsys.readouterr().out


@pytest.mark.parametrize("runner, model", [("cuda-graph", "linear_model"), ("aoti-graph", "package")])
def test_graph_runners_need_a_cuda_device(runner, model, request, bench_binary, capsys):
    """Refused with one message from every front end, before anything is captured."""
    path = request.getfixturevalue(model)
    capsys.readouterr()  # what making the fixture printed (torch's own log lines) is not the CLI's
    message = f"the {runner} runner needs a CUDA device (got 'cpu')"
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        infermeter.benchmark(path, runner=runner, **QUICK)
    assert main(["run", str(path), "--runner", runner, "--no-calibrate"]) == 2
    assert capsys.readouterr().err.strip() == f"infermeter: {message}"
    proc = subprocess.run([str(bench_binary), str(path), "--runner", runner], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == f"infermeter-bench: {message}"


def test_unknown_runner_lists_the_known_ones(linear_model):
    with pytest.raises(ValueError, match=r"runner must be one of torchscript, cuda-graph, aoti, aoti-graph, got 'tensorrt'"):
        infermeter.benchmark(linear_model, runner="tensorrt", **QUICK)


def test_wrong_runner_for_the_file_says_which_to_use(package, linear_model):
    with pytest.raises(infermeter.EngineError, match="linear.pt' holds no compiled AOTInductor model.*runner torchscript or cuda-graph"):
        infermeter.benchmark(linear_model, runner="aoti", **QUICK)
    with pytest.raises(infermeter.EngineError, match="is an AOTInductor package: measure it with runner aoti"):
        infermeter.benchmark(package, runner="torchscript", **QUICK)


def test_a_cpu_package_refuses_a_cuda_device_before_loading(package, tmp_path):
    # The device check reads the package's metadata first; on this machine the device itself is refused even
    # earlier, so the check is exercised by relabelling the package as compiled for cuda.
    relabelled = tmp_path / "cuda.pt2"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(relabelled, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("_metadata.json") and b"AOTI_DEVICE_KEY" in data:
                data = data.replace(b'"AOTI_DEVICE_KEY": "cpu"', b'"AOTI_DEVICE_KEY": "cuda"')
            dst.writestr(item, data)
    with pytest.raises(ValueError, match="was compiled for cuda and cannot run on cpu"):
        infermeter.benchmark(relabelled, runner="aoti", **QUICK)


def test_sweep_runs_each_runner_with_its_own_export(tmp_path):
    config = load_config(write_config(tmp_path / "s.yaml", models=[{"name": "resnet18", "resolution": [32]}],
                                      runners=["torchscript", "aoti"], batch_sizes=[1]))
    outcome = run_sweep(config, tmp_path / "out", progress=False)
    assert outcome.statuses == {"ok": 2}, [r["error"] for r in ResultsFile(outcome.results).records()]
    records = {r["point"]["runner"]: r for r in ResultsFile(outcome.results).records()}
    assert records["torchscript"]["key"] == "resnet18|resolution=32|fp32|t1|b1"
    assert records["aoti"]["key"] == "resnet18|resolution=32|fp32|aoti|t1|b1"
    assert records["aoti"]["result"]["model"]["format"] == "aoti"
    assert records["torchscript"]["result"]["model"]["export"]["frozen"] is True  # frozen by default
    assert sorted(p.suffix for p in (tmp_path / "out" / "models").iterdir()) == [".pt", ".pt2"]


def test_sweep_config_refuses_runners_that_cannot_run(tmp_path):
    from infermeter.sweep import ConfigError

    with pytest.raises(ConfigError, match="runner cuda-graph replays CUDA graphs: it needs a cuda device"):
        load_config(write_config(tmp_path / "a.yaml", models=[{"name": "resnet18"}], runners=["cuda-graph"]))
    with pytest.raises(ConfigError, match=r"runners\[0\]: runner must be one of torchscript, cuda-graph, aoti, aoti-graph, got 'onnx'"):
        load_config(write_config(tmp_path / "b.yaml", models=[{"name": "resnet18"}], runners=["onnx"]))


@pytest.mark.skipif(not shutil.which("gcc") or not shutil.which("g++"), reason="needs gcc and g++")
def test_packages_with_a_static_cxx_runtime_are_detected(tmp_path):
    (tmp_path / "c.c").write_text("int f(void) { return 1; }\n")
    (tmp_path / "cxx.cpp").write_text("#include <string>\nstd::string g() { return std::string(40, 'x'); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", str(tmp_path / "c.c"), "-o", str(tmp_path / "c.so")], check=True)
    subprocess.run(["g++", "-shared", "-fPIC", str(tmp_path / "cxx.cpp"), "-o", str(tmp_path / "cxx.so")], check=True)
    assert "libstdc++.so.6" in needed_libraries((tmp_path / "cxx.so").read_bytes())
    assert "libstdc++.so.6" not in needed_libraries((tmp_path / "c.so").read_bytes())
    for name, links in (("cxx.so", True), ("c.so", False)):
        with zipfile.ZipFile(tmp_path / f"{name}.pt2", "w") as z:
            z.write(tmp_path / name, f"pkg/data/aotinductor/model/x.wrapper.so")
        assert models_link_cxx_runtime(tmp_path / f"{name}.pt2") is links
    with pytest.raises(ValueError, match="not a 64-bit little-endian ELF file"):
        needed_libraries(b"#!/bin/sh\n")


def test_explicit_inputs_unlike_the_package_are_refused_before_they_run(package):
    # AOTInductor checks only the input count: a wrong shape would be read out of bounds.
    with pytest.raises(ValueError, match=r"input 0 must have shape \[-1,8\] \(-1: any batch\), got \[2,4\]"):
        infermeter.benchmark(package, runner="aoti", inputs=torch.rand(2, 4), duration=0.2, **QUICK)
    with pytest.raises(ValueError, match="input 0 must be float32, got float64"):
        infermeter.benchmark(package, runner="aoti", inputs=torch.rand(2, 8, dtype=torch.float64), duration=0.2,
                             **QUICK)
    with pytest.raises(ValueError, match="it takes 1 inputs, got 2"):
        infermeter.benchmark(package, runner="aoti", inputs=(torch.rand(2, 8), torch.rand(2, 8)), duration=0.2,
                             **QUICK)
    r = infermeter.benchmark(package, runner="aoti", inputs=torch.rand(3, 8), duration=0.2, **QUICK)
    assert r.requests > 0 and r.config["batch_size"] == 3


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")
def test_a_package_with_a_static_cxx_runtime_is_refused_before_python_loads_it(tmp_path):
    # A model library without NEEDED libstdc++.so.6, as /opt/gcc's g++ builds them: loading it would segfault.
    (tmp_path / "c.c").write_text("int f(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", str(tmp_path / "c.c"), "-o", str(tmp_path / "c.so")], check=True)
    with zipfile.ZipFile(tmp_path / "static.pt2", "w") as z:
        z.write(tmp_path / "c.so", "pkg/data/aotinductor/model/x.wrapper.so")
    with pytest.raises(ValueError, match="links libstdc\\+\\+ statically.*infermeter-bench"):
        infermeter.benchmark(tmp_path / "static.pt2", runner="aoti", inputs=torch.rand(1, 8), **QUICK)
