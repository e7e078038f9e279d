"""The numeric check every export passes: each output of the exported variant
against eager fp32, measured against how much that output actually depends on
the input, so that a model whose outputs hardly move cannot pass vacuously."""

from __future__ import annotations

import contextlib

import torch

# Relative L2 error allowed per output, measured against the part of the
# output that depends on the input (see output_errors): fp32 sees only
# reordering; fp16 and bf16 carry 11 and 8 mantissa bits through every layer.
# Random-weight ResNet-50, whose logits move by only ~7% between inputs, shows
# 0.015 in fp16 and 0.135 in bf16 on that scale on the CPU; on an H200 its
# fp16 TorchScript export showed 0.046 and its AOTInductor package 0.071
# (Inductor's fused fp16 kernels round differently). The bounds leave about
# 1.4-2x over the worst seen.
# TF32 (fp32 weights, matrix products and convolutions on tensor cores with
# 10 mantissa bits) keeps as many bits as fp16 does: random-weight ResNet-50
# with TF32 convolutions on an H200 showed 0.02.
TOLERANCE = {"fp32": 1e-4, "tf32": 1e-1, "fp16": 1e-1, "bf16": 2.5e-1, "mixed": 2.5e-1}
TF32_TOLERANCE = TOLERANCE["tf32"]
# An output whose eager fp32 value moves by less than this (relative L2)
# between two different inputs does not depend on the input: an error measured
# on it says nothing about the model's arithmetic (random-weight detectors
# whose sigmoid heads saturate, a module returning a constant).
MIN_INPUT_DEPENDENCE = 1e-6


class ExportCheckError(ValueError):
    """The exported variant does not reproduce the eager fp32 outputs, or the
    check cannot tell because the outputs do not depend on the input."""


def tolerance_for(precision: str, backend: str) -> tuple[float, str | None]:
    """The bound the check applies to this export, and why, when it is not
    the precision's own."""
    if backend in ("neuron", "neuronx"):
        return TOLERANCE["bf16"], "neuron-cc casts fp32 matrix multiplications to bf16"
    return TOLERANCE[precision], None


@contextlib.contextmanager
def tf32_mode(enabled: bool):
    """TF32 for cuBLAS matrix products and cuDNN convolutions on or off
    within the block, as the engine sets them for a model of that precision:
    fp32 is IEEE fp32 (cuDNN's TF32 default off), tf32 is TF32."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def output_tensors(output) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in output_tensors(item)]
    return []


def _norm(t: torch.Tensor) -> float:
    return float(t.double().norm())


def input_dependence(reference, reference_other) -> list[float | None]:
    """Per output, the relative L2 change of eager fp32 between two inputs
    (None for an integer output, compared exactly instead)."""
    changes = []
    for ref, other in zip(output_tensors(reference), output_tensors(reference_other), strict=True):
        if not ref.is_floating_point():
            changes.append(None)
            continue
        if ref.shape != other.shape:  # the output's shape follows the input: it depends on it
            changes.append(float("inf"))
            continue
        changes.append(_norm(ref - other) / max(_norm(ref), 1e-30))
    return changes


def require_input_dependence(name: str, changes: list[float | None]) -> None:
    constant = [i for i, c in enumerate(changes) if c is not None and c < MIN_INPUT_DEPENDENCE]
    if constant:
        worst = min(changes[i] for i in constant)
        raise ExportCheckError(
            f"{name}: output{'s' if len(constant) > 1 else ''} {', '.join(map(str, constant))} of "
            f"{len(changes)} hardly depend on the input (eager fp32 changes by {worst:.1e} relative between two "
            f"inputs, below {MIN_INPUT_DEPENDENCE:.0e}), so comparing the export against it proves nothing; "
            f"random weights can do this (e.g. saturated detector heads): load real weights, or pass "
            f"check_input_dependence=False (--allow-constant-output) to accept it")


def output_errors(output, reference, changes: list[float | None]) -> list[float]:
    """Per output, the L2 error against eager fp32, relative to the smaller of
    the reference's size and its change between two inputs; an integer output
    counts 0 when equal and 1 otherwise."""
    errors = []
    for out, ref, change in zip(output_tensors(output), output_tensors(reference), changes, strict=True):
        if out.shape != ref.shape:
            errors.append(float("inf"))
            continue
        if not ref.is_floating_point():
            errors.append(float(not torch.equal(out.cpu(), ref.cpu())))
            continue
        out, ref = out.double().cpu(), ref.double().cpu()
        if not torch.isfinite(out).all():
            errors.append(float("inf"))
            continue
        size = max(_norm(ref), 1e-30)
        # An input-independent output (accepted by the caller) is measured against its size alone.
        scale = size * min(1.0, change) if change >= MIN_INPUT_DEPENDENCE else size
        errors.append(_norm(out - ref) / scale)
    return errors


def check_outputs(name: str, precision: str, tolerance: float, errors: list[float]) -> None:
    worst = max(range(len(errors)), key=lambda i: errors[i], default=None)
    if worst is not None and not errors[worst] <= tolerance:
        raise ExportCheckError(
            f"{name} in {precision}: outputs differ from eager fp32 by {errors[worst]:.3g} (output {worst} of "
            f"{len(errors)}, relative L2 against the smaller of its size and its change between two inputs), "
            f"more than the {tolerance:.0e} this precision allows")
