"""Models for checking a harness against ground truth: `Spin` takes a known
time per call (`torch.ops.infermeter.spin`, a busy-wait on the engine's own
clock, registered by the extension and by `infermeter-bench`), and
`FailsOnNthRequest` breaks mid-run on purpose. Scripted, not traced, so the
op is the graph's one call."""

from __future__ import annotations

from pathlib import Path

import torch

from infermeter.torchscript_export import save_torchscript


class Spin(torch.nn.Module):
    """Returns its input after exactly `ns` nanoseconds (plus one clock read)."""

    def __init__(self, ns: int):
        super().__init__()
        self.ns = ns

    def forward(self, x):
        return torch.ops.infermeter.spin(x, self.ns)


class BatchedSpin(torch.nn.Module):
    """Returns its input after exactly `a_ns + b_ns * batch` nanoseconds: a
    model whose service time is a known line in its batch size, for checking
    dynamic batching against figures derived by hand."""

    def __init__(self, a_ns: int, b_ns: int):
        super().__init__()
        self.a_ns = a_ns
        self.b_ns = b_ns

    def forward(self, x):
        return torch.ops.infermeter.spin(x, self.a_ns + self.b_ns * x.size(0))


class FailsOnNthRequest(torch.nn.Module):
    """Counts its calls in an attribute and raises on the Nth: a model that
    breaks mid-run, after the engine's probe request has succeeded."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls >= self.n:
            raise RuntimeError("request " + str(self.calls) + " broke on purpose")
        return torch.tanh(x)


def spin_model(path: str | Path, ns: int) -> Path:
    """A TorchScript file whose every request takes `ns` nanoseconds."""
    import infermeter  # noqa: F401  registers torch.ops.infermeter.spin for scripting

    return save_torchscript(Spin(ns), torch.zeros(1), path, method="script")


def batched_spin_model(path: str | Path, a_ns: int, b_ns: int) -> Path:
    """A TorchScript file, batch-dynamic, whose batch of n items takes
    `a_ns + b_ns * n` nanoseconds."""
    import infermeter  # noqa: F401  registers torch.ops.infermeter.spin for scripting

    return save_torchscript(BatchedSpin(a_ns, b_ns), torch.zeros(1), path, method="script")
