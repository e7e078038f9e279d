"""Every named model builds offline, exports, round-trips with its input spec,
runs in the engine at two batch sizes and matches eager outputs."""

import json
import zipfile

import pytest
import torch

from infermeter import ExportCheckError, benchmark, export, zoo
from infermeter.export import TOLERANCE

# Reduced sizes keep CI fast; the slow test below runs the real sizes.
SMALL = {
    "resnet18": dict(resolution=64),
    "resnet50": dict(resolution=64),
    "vgg19": dict(resolution=32),
    "bert-base-squad2": dict(seq_len=16, num_hidden_layers=2),
    "bert-large": dict(seq_len=16, num_hidden_layers=2),
    "gpt": dict(n_layer=2),
    "unet": dict(resolution=64),
    "edsr": dict(resolution=24),
}
YOLO = ["yolov5s", "yolov5m", "yolov5l", "yolov5x"]  # infermeter's own code; tested in test_yolo.py
YOLO_U = ["yolov5su", "yolov5mu", "yolov5lu", "yolov5xu"]  # ultralytics' anchor-free variants, an optional extra


def extra_files(path):
    with zipfile.ZipFile(path) as z:
        names = {n.split("/", 1)[1]: n for n in z.namelist() if "/extra/" in n}
        return {k.removeprefix("extra/"): json.loads(z.read(v)) for k, v in names.items()}


def test_every_registered_model_is_covered():
    assert set(zoo.REGISTRY) == set(SMALL) | set(YOLO) | set(YOLO_U)


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_export_round_trip_and_engine(name, precision, tmp_path):
    path = tmp_path / f"{name}.pt"
    report = export(name, path, precision=precision, batch_size=2, weights="random", **SMALL[name])
    info = report.info
    assert info["weights"] == "random" and info["model"] == name and info["precision"] == precision
    assert info["max_rel_error"] <= TOLERANCE[precision]
    assert info["batch_dynamic"] is True

    stored = extra_files(path)
    assert stored["infermeter/export.json"]["precision"] == precision
    specs = stored["infermeter/inputs.json"]["inputs"]
    assert all(s["shape"][0] == -1 for s in specs)
    float_dtypes = {s["dtype"] for s in specs if s["dtype"].startswith(("float", "bfloat"))}
    assert float_dtypes <= {"float32" if precision == "fp32" else "bfloat16"}

    for batch in (1, 3):
        r = benchmark(path, batch_size=batch, duration=None, requests=2, warmup=0.0, calibrate=False)
        assert r.requests == 2 and r.config["batch_size"] == batch
        assert all(i["shape"][0] == batch for i in r.model["inputs"])
        assert r.model["export"]["model"] == name


@pytest.mark.parametrize("name", ["resnet18", "gpt"])
def test_mixed_and_fp16_variants_match_eager(name, tmp_path):
    for precision in ("mixed", "fp16"):
        report = export(name, tmp_path / f"{precision}.pt", precision=precision, weights="random", **SMALL[name])
        assert 0 < report.info["max_rel_error"] <= TOLERANCE[precision]


def test_fixed_batch_graph_is_reported_and_refused_at_other_batches(tmp_path):
    class FixedBatch(torch.nn.Module):
        def forward(self, x):
            return x.reshape(2, -1).sum(1)  # the traced graph keeps the literal 2

    report = export(FixedBatch(), tmp_path / "fixed.pt", inputs=torch.randn(2, 3))
    assert report.info["batch_dynamic"] is False
    assert extra_files(tmp_path / "fixed.pt")["infermeter/inputs.json"]["inputs"][0]["shape"] == [2, 3]
    r = benchmark(tmp_path / "fixed.pt", duration=None, requests=3, warmup=0.0, calibrate=False)
    assert r.config["batch_size"] == 2
    with pytest.raises(ValueError, match="exported for a fixed batch of 2.*export it again with batch size 5"):
        benchmark(tmp_path / "fixed.pt", batch_size=5, duration=None, requests=3, warmup=0.0, calibrate=False)


def test_precision_that_breaks_the_model_is_an_error(tmp_path):
    class Overflows(torch.nn.Module):
        def forward(self, x):
            return (x * 1e4) ** 2  # beyond fp16's range of 65504

    with pytest.raises(ExportCheckError, match="Overflows in fp16: outputs differ from eager fp32 by inf"):
        export(Overflows(), tmp_path / "o.pt", precision="fp16", inputs=torch.rand(2, 4) + 1)
    assert not (tmp_path / "o.pt").exists()


def test_unexpected_tracer_warnings_reach_the_user(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.warns(torch.jit.TracerWarning, match="Converting a tensor to a Python boolean"):
        export(DataDependent(), tmp_path / "d.pt", inputs=torch.rand(2, 2))


def test_expected_tracer_warnings_are_hidden(tmp_path, recwarn):
    export("gpt", tmp_path / "g.pt", weights="random", **SMALL["gpt"])
    assert not [w for w in recwarn if issubclass(w.category, (torch.jit.TracerWarning, FutureWarning))]


def test_cached_torchvision_weights_are_used(tmp_path, monkeypatch):
    from infermeter.zoo.vision import local_weights

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    assert local_weights("resnet18") is None
    assert zoo.build("resnet18", resolution=32).weights == "random"
    reference = zoo.build("resnet18", resolution=32).module
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    weights = "resnet18-f37072fd.pth"  # the file name torchvision downloads to
    torch.save(reference.state_dict(), checkpoints / weights)
    built = zoo.build("resnet18", resolution=32)
    assert built.weights == "pretrained"
    assert torch.equal(built.module.fc.weight, reference.fc.weight)
    assert zoo.build("resnet18", resolution=32, weights="random").weights == "random"


def test_local_hugging_face_folder(tmp_path):
    import transformers

    config = transformers.BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64)
    transformers.BertModel(config).save_pretrained(tmp_path / "tiny-bert")
    built = zoo.build(f"hf:{tmp_path / 'tiny-bert'}", seq_len=8)
    assert built.weights == "pretrained" and built.parameters > 0
    report = export(f"hf:{tmp_path / 'tiny-bert'}", tmp_path / "tiny.pt", seq_len=8)
    assert report.info["weights"] == "pretrained"


def test_unknown_names_and_options_are_clear():
    with pytest.raises(ValueError, match="unknown model 'resnet-9000'"):
        zoo.build("resnet-9000")
    with pytest.raises(ValueError, match="torchvision has no classification model 'nothing'"):
        zoo.build("tv:nothing")
    with pytest.raises(ValueError, match="no local config for Hugging Face model 'org/absent'"):
        zoo.build("hf:org/absent")
    with pytest.raises(ValueError, match="bad option for model 'resnet18'"):
        zoo.build("resnet18", seq_len=8)
    with pytest.raises(ValueError, match="precision must be one of"):
        export("resnet18", "x.pt", precision="int4")


@pytest.mark.parametrize("name", YOLO_U[:1])
def test_yolo_u_needs_its_extra_or_exports(name, tmp_path):
    try:
        import ultralytics  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match=r"pip install 'infermeter\[yolo\]'"):
            zoo.build(name)
        return
    report = export(name, tmp_path / "y.pt", resolution=128, weights="random")
    assert report.info["batch_dynamic"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_full_size_models_export_and_run(name, tmp_path):
    report = export(name, tmp_path / f"{name}.pt", weights="random")
    assert report.info["max_rel_error"] <= TOLERANCE["fp32"]
    for batch in (1, 2):
        r = benchmark(tmp_path / f"{name}.pt", batch_size=batch, duration=None, requests=1, warmup=0.0,
                      calibrate=False)
        assert r.requests == 1
