"""AOTInductor export: a .pt2 package that loads with aoti_load_package,
matches eager fp32 and carries infermeter's input spec and export facts."""

import json
import zipfile

import pytest
import torch

from infermeter import ExportCheckError, benchmark, export
from infermeter.aoti_export import EXPORT_INFO_RECORD, INPUT_SPEC_RECORD, read_package_facts
from infermeter.export import TOLERANCE


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()


def conv_net():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 4, 3, padding=1)).eval()


class Zero(torch.nn.Module):
    def forward(self, x):
        return x * 0


def test_mlp_package_runs_at_any_batch_and_carries_its_facts(tmp_path):
    model = mlp()
    path = tmp_path / "mlp.pt2"
    report = export(model, path, inputs=torch.rand(1, 8), format="aoti", input_names=["features"])
    assert report.info["format"] == "aoti" and report.info["batch_dynamic"] is True
    assert report.info["max_rel_error"] <= TOLERANCE["fp32"]

    package = torch._inductor.aoti_load_package(str(path))
    for batch in (1, 5):
        x = torch.rand(batch, 8)
        torch.testing.assert_close(package(x), model(x))

    spec, facts = (json.loads(t) for t in read_package_facts(path))
    assert spec == {"inputs": [{"name": "features", "shape": [-1, 8], "dtype": "float32",
                                "low": spec["inputs"][0]["low"], "high": spec["inputs"][0]["high"]}]}
    assert facts == json.loads(json.dumps(report.info))
    # A plain zip reader finds them under the archive's root folder, as PyTorchStreamReader does.
    with zipfile.ZipFile(path) as z:
        names = {n.split("/", 1)[1]: n for n in z.namelist()}
        assert json.loads(z.read(names[INPUT_SPEC_RECORD])) == spec
        assert json.loads(z.read(names[EXPORT_INFO_RECORD])) == facts


def test_fp16_conv_package_matches_within_its_tolerance(tmp_path):
    report = export(conv_net(), tmp_path / "c.pt2", inputs=torch.rand(2, 3, 16, 16), format="aoti",
                    precision="fp16")
    assert 0 < report.info["max_rel_error"] <= TOLERANCE["fp16"]
    spec, _ = read_package_facts(tmp_path / "c.pt2")
    assert json.loads(spec)["inputs"][0]["dtype"] == "float16"
    out = torch._inductor.aoti_load_package(str(tmp_path / "c.pt2"))(torch.rand(3, 3, 16, 16).half())
    assert out.dtype == torch.float16 and out.shape == (3, 4, 16, 16)


@pytest.mark.slow
def test_bf16_conv_package(tmp_path):
    report = export(conv_net(), tmp_path / "c.pt2", inputs=torch.rand(2, 3, 16, 16), format="aoti",
                    precision="bf16")
    assert 0 < report.info["max_rel_error"] <= TOLERANCE["bf16"]
    assert json.loads(read_package_facts(tmp_path / "c.pt2")[0])["inputs"][0]["dtype"] == "bfloat16"


@pytest.mark.slow
def test_model_fixed_to_its_batch_exports_static(tmp_path):
    class FixedBatch(torch.nn.Module):
        def forward(self, x):
            return x.reshape(2, -1).sum(1)

    report = export(FixedBatch(), tmp_path / "f.pt2", inputs=torch.randn(2, 3), format="aoti")
    assert report.info["batch_dynamic"] is False
    assert json.loads(read_package_facts(tmp_path / "f.pt2")[0])["inputs"][0]["shape"] == [2, 3]


def test_refusals_come_before_compiling(tmp_path):
    with pytest.raises(ValueError, match="mixed .* needs format torchscript"):
        export(mlp(), tmp_path / "m.pt2", inputs=torch.rand(2, 8), format="aoti", precision="mixed")
    with pytest.raises(ExportCheckError, match="hardly depend on the input"):
        export(Zero(), tmp_path / "c.pt2", inputs=torch.rand(2, 8), format="aoti")
    with pytest.raises(ValueError, match="format must be one of torchscript, aoti"):
        export(mlp(), tmp_path / "m.onnx", inputs=torch.rand(2, 8), format="onnx")
    assert not list(tmp_path.iterdir())


def test_reading_facts_from_another_archive_is_clear(tmp_path):
    torch.save({"x": 1}, tmp_path / "plain.pt2")
    with pytest.raises(ValueError, match="plain.pt2 was not exported by infermeter: it has no extra/infermeter"):
        read_package_facts(tmp_path / "plain.pt2")


def test_static_batch_package_is_compiled_once_and_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERMETER_CACHE", str(tmp_path / "cache"))
    model = mlp()
    first = export(model, tmp_path / "a.pt2", inputs=torch.rand(4, 8), format="aoti", static_batch=True)
    assert first.info["batch_dynamic"] is False and first.info["batch_size"] == 4
    assert first.info["compile_cache"] == "miss" and first.info["compile_s"] > 0
    assert first.info["inductor_options"] == {"freezing": True} and first.info["frozen"] is True
    assert len(list((tmp_path / "cache" / "aoti").glob("*.pt2"))) == 1
    # The same program again (another file): no compile, the first compile's time kept.
    second = export(model, tmp_path / "b.pt2", inputs=torch.rand(4, 8), format="aoti", static_batch=True)
    assert second.info["compile_cache"] == "hit" and second.info["compile_s"] == first.info["compile_s"]
    spec, _ = (json.loads(t) for t in read_package_facts(tmp_path / "b.pt2"))
    assert spec["inputs"][0]["shape"] == [4, 8]
    with pytest.raises(ValueError, match="4"):  # static: batch 4 only
        benchmark(tmp_path / "b.pt2", runner="aoti", batch_size=5, duration=0.2, warmup=0)
    # Other weights are another program: compiled, not served from the cache.
    third = export(mlp(), tmp_path / "c.pt2", inputs=torch.rand(4, 8), format="aoti", static_batch=True)
    assert third.info["compile_cache"] == "miss"
    off = export(mlp(), tmp_path / "d.pt2", inputs=torch.rand(4, 8), format="aoti", static_batch=True, cache=False)
    assert off.info["compile_cache"] == "off"
    # The same model and weights at another static batch is another package (the graph's text alone would not tell
    # them apart: a batch-1 package served from a batch-4 entry read out of bounds on an H200).
    other_batch = export(model, tmp_path / "e.pt2", inputs=torch.rand(2, 8), format="aoti", static_batch=True)
    assert other_batch.info["compile_cache"] == "miss" and other_batch.info["batch_size"] == 2


def test_compile_options_apply_to_packages_only(tmp_path):
    for option in ("static_batch", "max_autotune"):
        with pytest.raises(ValueError, match=f"{option} applies to AOTInductor packages"):
            export(mlp(), tmp_path / "m.pt", inputs=torch.rand(2, 8), **{option: True})

