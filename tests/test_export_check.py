"""The export check compares each output against how much it depends on the
input, and TorchScript exports are frozen by default."""

import pytest
import torch

from infermeter import ExportCheckError, benchmark, export
from infermeter.export import TOLERANCE
from infermeter.torchscript_export import quiet_torchscript
from test_zoo import extra_files


def load(path):
    with quiet_torchscript():
        return torch.jit.load(path)


class Constant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.value = torch.nn.Parameter(torch.randn(1, 4))

    def forward(self, x):
        return x[:, :1] * 0 + self.value  # the batch follows x, the values never do


class HalfConstant(torch.nn.Module):
    def forward(self, x):
        return x * 2, torch.ones_like(x)


class SmallSignalOnOffset(torch.nn.Module):
    def forward(self, x):
        return x * 0.1 + 100  # fp16 keeps the offset, not the 0.1 * x that carries the input


def conv_net():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 4, 3, padding=1)).eval()


def test_constant_output_is_refused_and_accepted_with_the_opt_out(tmp_path):
    with pytest.raises(ExportCheckError, match=r"Constant: output 0 of 1 hardly depend on the input.*"
                                               r"check_input_dependence=False"):
        export(Constant(), tmp_path / "c.pt", inputs=torch.rand(2, 3))
    assert not (tmp_path / "c.pt").exists()

    for precision in ("fp32", "fp16"):
        report = export(Constant(), tmp_path / f"c_{precision}.pt", inputs=torch.rand(2, 3), precision=precision,
                        check_input_dependence=False)
        assert report.info["output_input_dependence"] == [0.0]
        assert report.info["output_errors"][0] <= TOLERANCE[precision]


def test_one_constant_output_among_several_is_named(tmp_path):
    with pytest.raises(ExportCheckError, match="HalfConstant: output 1 of 2 hardly depend"):
        export(HalfConstant(), tmp_path / "h.pt", inputs=torch.rand(2, 3))


def test_error_is_measured_against_the_input_dependent_part(tmp_path):
    # Relative to the output's size the fp16 error is ~2e-4 and would pass; relative to
    # how much the output moves with the input it is of order 1.
    with pytest.raises(ExportCheckError, match=r"SmallSignalOnOffset in fp16: outputs differ from eager fp32 by "):
        export(SmallSignalOnOffset(), tmp_path / "s.pt", inputs=torch.rand(8, 64), precision="fp16")
    report = export(SmallSignalOnOffset(), tmp_path / "s.pt", inputs=torch.rand(8, 64))
    assert report.info["max_rel_error"] <= TOLERANCE["fp32"]


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_normal_model_passes_with_per_output_errors_stored(precision, tmp_path):
    class TwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = conv_net()

        def forward(self, x):
            y = self.body(x)
            return y, y.flatten(1).softmax(-1)

    report = export(TwoHeads(), tmp_path / "m.pt", inputs=torch.rand(2, 3, 16, 16), precision=precision)
    stored = extra_files(tmp_path / "m.pt")["infermeter/export.json"]
    assert len(stored["output_errors"]) == 2 and len(stored["output_input_dependence"]) == 2
    assert stored["max_rel_error"] == max(stored["output_errors"]) == report.info["max_rel_error"]
    assert all(e <= TOLERANCE[precision] for e in stored["output_errors"])
    if precision != "fp32":
        assert all(e > 0 for e in stored["output_errors"])  # the cast really happened


def test_torchscript_exports_are_frozen_by_default(tmp_path):
    x = torch.rand(2, 3, 16, 16)
    report = export(conv_net(), tmp_path / "f.pt", inputs=x)
    assert report.info["frozen"] is True
    loaded = load(tmp_path / "f.pt")
    assert not list(loaded.parameters())  # weights became constants
    assert "batch_norm" not in str(loaded.graph)  # folded into the convolution
    # On the CPU optimize_for_inference swaps in MKLDNN constants TorchScript cannot save; the facts say so.
    assert report.info["optimized_for_inference"] is False
    assert "optimize_for_inference_skipped" in report.info
    r = benchmark(tmp_path / "f.pt", batch_size=3, duration=None, requests=2, warmup=0.0, calibrate=False)
    assert r.requests == 2 and r.model["export"]["frozen"] is True

    unfrozen = export(conv_net(), tmp_path / "u.pt", inputs=x, freeze=False)
    assert unfrozen.info["frozen"] is False and "optimized_for_inference" not in unfrozen.info
    assert list(load(tmp_path / "u.pt").parameters())


def test_optimize_for_inference_is_applied_where_it_can_be_saved(tmp_path):
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    report = export(mlp, tmp_path / "mlp.pt", inputs=torch.rand(2, 8))
    assert report.info["frozen"] is True and report.info["optimized_for_inference"] is True
    loaded = load(tmp_path / "mlp.pt")
    x = torch.rand(5, 8)
    torch.testing.assert_close(loaded(x), mlp(x))


def test_fp32_is_ieee_and_tf32_its_own_precision(monkeypatch):
    """fp32 is checked (and, by the engine, run) with TF32 off, against fp32's bound; tf32 keeps 10 mantissa bits
    and is held to fp16's bound; the mode is restored after the block whatever it was."""
    from infermeter.export_check import TF32_TOLERANCE, tf32_mode, tolerance_for

    assert tolerance_for("fp32", "cuda") == (TOLERANCE["fp32"], None)
    assert tolerance_for("tf32", "cuda") == (TF32_TOLERANCE, None) and TF32_TOLERANCE == TOLERANCE["fp16"]
    assert tolerance_for("fp32", "neuron")[0] == TOLERANCE["bf16"]
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    with tf32_mode(False):
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    with tf32_mode(True):
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32


def test_tf32_needs_a_gpu(tmp_path):
    with pytest.raises(ValueError, match="tf32 needs a CUDA device"):
        export("resnet18", tmp_path / "r.pt", precision="tf32", resolution=32)
