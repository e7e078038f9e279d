"""Sweep configs: every mistake is reported with the file and the key."""

import pytest

from infermeter.sweep import ConfigError, expand, load_config
from sweep_helpers import write_config

RESNET = [{"name": "resnet18"}]


@pytest.mark.parametrize("doc, key, message", [
    ({"models": RESNET, "batch_size": [1]}, "batch_size", "unknown key"),
    ({"models": RESNET, "batch_sizes": [1, 0]}, "batch_sizes[1]", "batch_size must be >= 1 and at most 1048576"),
    ({"models": RESNET, "batch_sizes": ["8"]}, "batch_sizes[0]", "batch_size expects an integer, got '8'"),
    ({"models": RESNET, "batch_sizes": [2, 2]}, "batch_sizes", "2 is given twice"),
    ({"models": RESNET, "duration": -1}, "duration", "duration must be > 0 and at most 86400 s"),
    ({"models": RESNET, "threads": 0}, "threads[0]", "threads must be >= 1"),
    ({"models": RESNET, "window": 0}, "window", "window must be > 0"),
    ({"models": RESNET, "name": ".."}, "(top level)", "would write outside the results folder"),
    ({"models": RESNET, "precisions": ["fp8"]}, "precisions[0]", "'fp32', 'tf32', 'fp16', 'bf16' or 'mixed'"),
    ({"models": RESNET, "device": "gpu"}, "device", "device must be cpu or cuda:N, got 'gpu'"),
    ({"models": []}, "models", "at least 1 item"),
    ({"models": [{"name": "resnet18", "seqlen": 128}]}, "models[0].seqlen", "unknown key"),
    ({"models": [{"name": "resnet18", "seq_len": 128}]}, "models[0]", "it takes: resolution, weights"),
    ({"models": [{"name": "resnet-50"}]}, "models[0]", "unknown model 'resnet-50'"),
    ({"models": RESNET, "sla": "p90 under 15ms"}, "sla", "p<percentile><limit"),
    ({"models": [{"name": "resnet18", "options": {"resolution": 64}}]}, "models[0]", "model's own key"),
])
def test_errors_name_file_and_key(tmp_path, doc, key, message):
    path = write_config(tmp_path / "bad.yaml", **doc)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert str(path) in text and f"  {key}: " in text and message in text, text


def test_missing_name_and_bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models: [{name: resnet18}]\n")
    with pytest.raises(ConfigError, match=r"name: required key is missing"):
        load_config(path)
    path.write_text("name: x\nmodels: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="sweep config not found: nowhere.yaml .*cpu_quick"):
        load_config("nowhere.yaml")


def test_torchscript_files_are_found_beside_the_config(tmp_path, linear_model):
    write_config(tmp_path / "ok.yaml", models=[{"name": str(linear_model)}])
    assert expand(load_config(tmp_path / "ok.yaml"))[0].precision == "as-exported"
    path = write_config(tmp_path / "bad.yaml", models=[{"name": "missing.pt"}])
    with pytest.raises(ConfigError, match="TorchScript file not found: .*missing.pt"):
        load_config(path)
    path = write_config(tmp_path / "bad2.yaml", models=[{"name": str(linear_model), "precisions": ["fp16"]}])
    with pytest.raises(ConfigError, match="swept as exported"):
        load_config(path)


def test_grid_order_and_per_model_overrides(tmp_path):
    config = load_config(write_config(
        tmp_path / "g.yaml", batch_sizes=[8, 1], threads=[1, 2], precisions=["fp32", "fp16"],
        models=[{"name": "bert-base-squad2", "seq_len": [64, 128]},
                {"name": "unet", "resolution": 256, "batch_sizes": [2], "precisions": "mixed"}]))
    points = expand(config)
    assert len(points) == 2 * 2 * 2 * 2 + 1 * 1 * 2 * 1
    assert [p.batch_size for p in points[:2]] == [1, 8]  # ascending within a series
    assert points[0].key == "bert-base-squad2|seq_len=64|fp32|t1|b1"
    assert points[-1].key == "unet|resolution=256|mixed|t2|b2" and points[-1].entry == 1
    assert len({p.key for p in points}) == len(points)
