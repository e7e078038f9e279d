"""Neuron, Neuron X and Elastic Inference: without their SDKs they fail at
once with the way to get them; with test doubles standing in for the SDKs,
the calls, arguments and environment the backends use are checked, and the
compiled models run through the real engine."""

import copy
from collections import Counter

import pytest
import torch

import infermeter
from infermeter.backends import BackendConfig, BackendUnavailable
from infermeter.backends.eia import ordinal_from_tool
from infermeter.backends.neuron import LOAD_PER_COPY, NeuronOptions, engine_replicas, pipeline_cores_rule
from infermeter.backends.neuronx import NeuronxOptions
from infermeter.cli import main
from infermeter.sweep import ConfigError, load_config, run_sweep
from infermeter.sweep.store import ResultsFile
from infermeter.torchscript_export import quiet_torchscript
from fake_sdks import ElasticInferenceBuild, fake_ei_tool, fake_torch_neuron, fake_torch_neuronx
from sweep_helpers import write_config

SMALL = {"resolution": 32}  # resnet18 at 32x32: 11.7M parameters, fast on the CPU


@pytest.fixture(autouse=True)
def clean_runtime_env(monkeypatch):
    for name in ("NEURONCORE_GROUP_SIZES", "NEURON_RT_VISIBLE_CORES", "NEURON_RT_NUM_CORES"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("backend, package, where, route", [
    ("neuron", "torch-neuron", "inf1 instances", "pip install torch-neuron neuron-cc[tensorflow] "
                                                 "--extra-index-url=https://pip.repos.neuron.amazonaws.com"),
    ("neuronx", "torch-neuronx", "inf2 and trn1", "pip install torch-neuronx neuronx-cc"),
    ("eia", "Elastic Inference build of PyTorch", "Elastic Inference accelerator attached", "Deep Learning AMI"),
])
def test_missing_sdk_fails_at_once_with_the_way_to_get_it(tmp_path, capsys, backend, package, where, route):
    with pytest.raises(BackendUnavailable) as caught:
        infermeter.export("resnet18", tmp_path / "m.pt", backend=backend, **SMALL)
    for part in (package, where, route):
        assert part in str(caught.value)
    assert not (tmp_path / "m.pt").exists()
    assert main(["run", "nowhere.pt", "--backend", backend]) == 2
    assert package in capsys.readouterr().err
    config = load_config(write_config(tmp_path / "s.yaml", backend=backend, models=[{"name": "resnet18", **SMALL}]))
    with pytest.raises(BackendUnavailable):
        run_sweep(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "results.jsonl").exists()  # no half-run sweep


def test_pipeline_rule_of_thumb():
    assert pipeline_cores_rule(25_557_032) == 4  # resnet50
    assert pipeline_cores_rule(108_893_186) == 20  # bert-base with its QA head
    assert pipeline_cores_rule(5_000_000) == 4  # never below one group of four


def test_neuron_pipeline_compiles_across_cores_and_groups_them(monkeypatch, tmp_path):
    calls, sdk = fake_torch_neuron(monkeypatch)
    with sdk:
        backend = BackendConfig(name="neuron", neuron=NeuronOptions(mode="pipeline"))
        report = infermeter.export("resnet18", tmp_path / "m.pt", backend=backend, **SMALL)
        assert calls.traces == [{"sdk": "torch-neuron", "inputs": [(1, 3, 32, 32)], "input_container": "list",
                                 "compiler_args": ["--neuroncore-pipeline-cores", "4"], "kwargs": {},
                                 "env": {"NEURONCORE_GROUP_SIZES": "4"}}]
        assert calls.imports == [{"NEURONCORE_GROUP_SIZES": "4"}]  # set before the runtime loaded
        assert report.info["backend"] == "neuron"
        assert report.info["backend_facts"] == {"compiler_args": ["--neuroncore-pipeline-cores", "4"],
                                                "mode": "pipeline", "group_sizes": "4"}
        result = infermeter.benchmark(report.path, backend=backend, duration=0.3, warmup=0.05, calibrate=False)
    # The runtime started (torch_neuron imported) with the pipeline as one group of four cores.
    assert calls.imports[-1] == {"NEURONCORE_GROUP_SIZES": "4"}
    assert result.requests > 0 and result.model["export"]["backend"] == "neuron"


def test_neuron_double_places_loaded_copies_not_deep_copies(monkeypatch, tmp_path):
    calls, sdk = fake_torch_neuron(monkeypatch)
    with sdk:
        report = infermeter.export("resnet18", tmp_path / "m.pt", backend="neuron", **SMALL)
        with quiet_torchscript():
            loaded = [torch.jit.load(str(report.path)) for _ in range(2)]
        copied = copy.deepcopy(loaded[1])
        for model in (*loaded, copied):
            model(torch.rand(1, 3, 32, 32))
    assert calls.placed == [0, 1] and calls.served[0] == 1 and calls.served[1] == 2


def test_neuron_data_parallel_loads_each_copy_onto_its_own_core_group(monkeypatch, tmp_path):
    calls, sdk = fake_torch_neuron(monkeypatch)
    with sdk:
        backend = BackendConfig(name="neuron")
        report = infermeter.export("resnet18", tmp_path / "m.pt", backend=backend, **SMALL)
        assert calls.traces[0]["compiler_args"] == []
        calls.served.clear()  # the export's own check ran before any load
        result = infermeter.benchmark(report.path, backend=backend, threads=4, duration=0.3, warmup=0.05,
                                      calibrate=False)
    assert calls.imports[-1] == {"NEURONCORE_GROUP_SIZES": "1,1,1,1"}
    # AWS: one torch.jit.load per copy, each onto the next NeuronCore group; a deep copy stays on its original's.
    assert calls.placed == [0, 1, 2, 3], "each client thread's copy must be its own load of the file"
    assert set(calls.served) == {0, 1, 2, 3} and sum(calls.served.values()) >= result.requests
    assert result.config["threads"] == 4 and result.config["replicas"] == LOAD_PER_COPY


def test_neuron_replicas_contract():
    data_parallel, pipeline = NeuronOptions(), NeuronOptions(mode="pipeline")
    assert engine_replicas(data_parallel, "per-thread", 4, 10**7) == LOAD_PER_COPY
    assert engine_replicas(data_parallel, "shared", 8, 10**7) == "shared"  # one copy, on the first group
    assert engine_replicas(pipeline, "per-thread", 1, 10**7) == LOAD_PER_COPY
    with pytest.raises(ValueError, match="5 client threads .* NEURONCORE_GROUP_SIZES=1,1,1,1 makes 4"):
        engine_replicas(data_parallel, "per-thread", 5, 10**7)
    with pytest.raises(ValueError, match="2 client threads .* NEURONCORE_GROUP_SIZES=4 makes 1"):
        engine_replicas(pipeline, "per-thread", 2, 10**7)


def test_neuron_group_sizes_cannot_change_once_the_runtime_runs(monkeypatch, tmp_path):
    calls, sdk = fake_torch_neuron(monkeypatch)
    with sdk:
        report = infermeter.export("resnet18", tmp_path / "m.pt", backend="neuron", **SMALL)
        infermeter.benchmark(report.path, backend="neuron", duration=0.1, warmup=0, calibrate=False)
        sixteen = BackendConfig(name="neuron", neuron=NeuronOptions(group_sizes="16"))
        with pytest.raises(ValueError, match="NEURONCORE_GROUP_SIZES=1,1,1,1; 16 needs a new process"):
            infermeter.benchmark(report.path, backend=sixteen, duration=0.1, warmup=0, calibrate=False)


def test_neuronx_sets_visible_cores_before_its_runtime_starts(monkeypatch, tmp_path):
    calls, sdk = fake_torch_neuronx(monkeypatch)
    with sdk:
        backend = BackendConfig(name="neuronx", neuronx=NeuronxOptions(visible_cores="0-1"))
        report = infermeter.export("resnet18", tmp_path / "m.pt", backend=backend, **SMALL)
        assert calls.traces[0]["input_container"] == "tuple" and calls.traces[0]["compiler_args"] is None
        result = infermeter.benchmark(report.path, backend=backend, threads=2, duration=0.2, warmup=0.05,
                                      calibrate=False)
    assert calls.imports[-1] == {"NEURON_RT_VISIBLE_CORES": "0-1"}
    assert result.requests > 0


def test_ei_tool_output_picks_the_first_healthy_accelerator(tmp_path):
    tool = fake_ei_tool(tmp_path, [{"ordinal": 0, "type": "eia2.medium", "id": "eia-aaa", "status": "unhealthy"},
                                   {"ordinal": 1, "type": "eia2.medium", "id": "eia-bbb", "status": "healthy"}])
    assert ordinal_from_tool(tool) == 1
    sick = fake_ei_tool(tmp_path, [{"ordinal": 0, "type": "eia2.medium", "id": "eia-aaa", "status": "unhealthy"}])
    with pytest.raises(BackendUnavailable, match="no healthy Elastic Inference accelerator"):
        ordinal_from_tool(sick)
    with pytest.raises(BackendUnavailable, match="give the ordinal with --eia-ordinal"):
        ordinal_from_tool(str(tmp_path / "missing-ei"))


def test_eia_exports_and_runs_inside_the_accelerator_context(monkeypatch, tmp_path):
    ei = ElasticInferenceBuild(monkeypatch)
    tool = fake_ei_tool(tmp_path, [{"ordinal": 2, "type": "eia2.medium", "id": "eia-ccc", "status": "healthy"}])
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    report = infermeter.export("resnet18", tmp_path / "m.pt", backend="eia", **SMALL)
    assert report.info["backend_facts"] == {"target_device": "eia:2"} and tool
    assert {device for device, _ in ei.entries} == {"eia:2"}

    calls_by_device = Counter()
    real_load = torch.jit.load

    def load(path, **kwargs):
        model = real_load(path, **kwargs)

        def call(*inputs):
            calls_by_device[ei.current_device()] += 1
            return model(*inputs)
        return call
    monkeypatch.setattr(torch.jit, "load", load)
    ei.entries.clear()
    result = infermeter.benchmark(report.path, backend=BackendConfig(name="eia"), threads=2, duration=0.3,
                                  warmup=0.05)
    # Every inference ran inside optimized_execution on eia:2, entered once by each client thread.
    assert set(calls_by_device) == {"eia:2"} and calls_by_device["eia:2"] >= result.requests
    assert len(ei.entries) == 2 and len({thread for _, thread in ei.entries}) == 2
    assert result.model["runner"] == "python" and result.model["target_device"] == "eia:2"
    assert result.environment["backend"] == "eia:2" and result.environment["front_end"] == "python"
    assert result.latency.p50 > 0 and result.histogram.get_total_count() == result.requests
    # One module shared by the threads, in the engine's own worker pool.
    assert result.config["replicas"] == "shared"
    assert result.to_dict()["measurement"]["stop"]["rule"] == {"rule": "duration", "duration_s": 0.3}
    # The engine's pool runs it, so its loads and stop rules are every runner's.
    counted = infermeter.benchmark(report.path, backend=BackendConfig(name="eia"), duration=None, requests=25,
                                   warmup=0.05)
    assert counted.requests == 25 and set(calls_by_device) == {"eia:2"}
    opened = infermeter.benchmark(report.path, backend=BackendConfig(name="eia"), rate=100.0, duration=0.3,
                                  warmup=0.05)
    assert opened.load_info["kind"] == "open" and opened.response_latency is not None
    with pytest.raises(ValueError, match="backend 'eia' runs a TorchScript model"):
        infermeter.benchmark(report.path, backend=BackendConfig(name="eia"), duration=1.0, runner="aoti")


def test_eia_sweep_prices_client_plus_accelerator(monkeypatch, tmp_path):
    ElasticInferenceBuild(monkeypatch)
    config = load_config(write_config(tmp_path / "s.yaml", backend="eia", eia={"ordinal": 0},
                                      instance="c5.large+eia2.medium", models=[{"name": "resnet18", **SMALL}]))
    assert run_sweep(config, tmp_path / "out", progress=False).statuses == {"ok": 1}
    frame = infermeter.load_results(tmp_path / "out")
    row = frame.iloc[0]
    assert row["price_per_hour"] == pytest.approx(0.085 + 0.12)
    assert row["cost_per_million"] == pytest.approx(0.205 / (row["inferences_per_s"] * 3600) * 1e6)


def test_neuron_sweep_config_keys(monkeypatch, tmp_path):
    calls, sdk = fake_torch_neuron(monkeypatch)
    doc = {"backend": "neuron", "neuron": {"mode": "pipeline", "pipeline_cores": 16}, "instance": "inf1.6xlarge",
           "models": [{"name": "resnet18", **SMALL}], "batch_sizes": [1, 2]}
    with sdk:
        config = load_config(write_config(tmp_path / "s.yaml", **doc))
        assert run_sweep(config, tmp_path / "out", progress=False).statuses == {"ok": 2}
    assert [t["compiler_args"] for t in calls.traces] == [["--neuroncore-pipeline-cores", "16"]]
    assert calls.imports[-1] == {"NEURONCORE_GROUP_SIZES": "16"}
    record = ResultsFile(tmp_path / "out").records()[0]
    assert record["result"]["model"]["export"]["backend_facts"]["group_sizes"] == "16"
    for bad, message in (({"neuron": {"mode": "pipelined"}}, "neuron.mode"),
                         ({"neuron": {"group_sizes": "4 4"}}, "neuron.group_sizes"),
                         ({"precisions": ["fp16"]}, "compiles from fp32"),
                         ({"device": "cuda:0"}, "takes its inputs from the host")):
        with pytest.raises(ConfigError, match=message):
            load_config(write_config(tmp_path / "bad.yaml", **(doc | bad)))


def test_shipped_inferentia_configs_use_the_neuron_keys():
    dp, pipe = load_config("inferentia_bert"), load_config("inferentia_bert_pipeline")
    assert dp.backend == pipe.backend == "neuron"
    assert dp.neuron.mode == "data-parallel" and pipe.neuron.mode == "pipeline"
    assert dp.batch_sizes == pipe.batch_sizes == [1, 6] and dp.models[0].seq_len == [128]
