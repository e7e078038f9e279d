"""Amazon Elastic Inference (retired; kept for existing deployments and for
re-running the published study) through the Elastic Inference build of
PyTorch 1.3.1. Models are traced, and run, inside
torch.jit.optimized_execution(True, {"target_device": "eia:N"}); that
context is per Python thread, so EI requests are issued and timed from
Python threads (time.perf_counter_ns) rather than by the native engine.
Verified against AWS's documented API with test doubles, not on hardware."""

from __future__ import annotations

import json
import shutil
import subprocess
from contextlib import contextmanager

import torch

from infermeter.backends.base import BackendUnavailable

EI_TOOL = "/opt/amazon/ei/ei_tools/bin/ei"
INSTALL = ("an EC2 instance with an Elastic Inference accelerator attached and AWS's Elastic Inference build of "
           "PyTorch (the `amazonei_pytorch_p36` environment of the Deep Learning AMI)")


def require() -> None:
    """The EI build's optimized_execution takes a target device; stock torch's does not."""
    try:
        # Called, not entered: a wrong signature fails at the call, and no device is touched.
        torch.jit.optimized_execution(True, {"target_device": "eia:0"})
    except TypeError:
        raise BackendUnavailable(
            f"backend 'eia' needs the Elastic Inference build of PyTorch (torch {torch.__version__} here has "
            f"no target_device in torch.jit.optimized_execution). It runs on {INSTALL}") from None


@contextmanager
def on_accelerator(ordinal: int):
    with torch.jit.optimized_execution(True, {"target_device": f"eia:{ordinal}"}):
        yield


def ordinal_from_tool(tool: str | None = None) -> int:
    """The ordinal of the first healthy accelerator that `ei describe-accelerators --json` lists."""
    tool = tool or shutil.which("ei") or EI_TOOL
    try:
        out = subprocess.run([tool, "describe-accelerators", "--json"], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise BackendUnavailable(f"cannot ask the Elastic Inference tool ({tool}) for accelerators: {e}; "
                                 "give the ordinal with --eia-ordinal") from None
    try:
        devices = json.loads(out)["devices"]
    except (ValueError, KeyError, TypeError):
        raise BackendUnavailable(f"{tool} describe-accelerators --json printed no device list: {out[:200]!r}") from None
    healthy = [d for d in devices if str(d.get("status", "")).lower() == "healthy"]
    if not healthy:
        raise BackendUnavailable(f"no healthy Elastic Inference accelerator attached ({len(devices)} listed)")
    return int(healthy[0]["ordinal"])


def compile_module(module, example_inputs, ordinal: int):
    with torch.no_grad(), on_accelerator(ordinal):
        return torch.jit.trace(module, tuple(example_inputs))
