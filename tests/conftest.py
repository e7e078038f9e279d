import os
import shutil
import signal
import sysconfig
import tempfile
from pathlib import Path

import pytest
import torch

from infermeter import save_torchscript

# A suite started in the background of a shell without job control inherits
# SIGINT ignored, and so would every child it starts, so that the Ctrl-C tests'
# SIGINT would never arrive. Python's own handler here is reset to the default
# in each child at exec.
signal.signal(signal.SIGINT, signal.default_int_handler)

# AOTInductor packages are cached per run of the suite, never in the user's
# own cache, so that each run compiles what it tests (children inherit it).
os.environ["INFERMETER_CACHE"] = tempfile.mkdtemp(prefix="infermeter-test-cache-")


class Identity(torch.nn.Module):
    def forward(self, x):
        return x


class MatmulChain(torch.nn.Module):
    """Costs about a millisecond a call on one core: long enough that latency
    is the model's, not the harness's."""

    def __init__(self, size=192, depth=8):
        super().__init__()
        self.weights = torch.nn.ParameterList(torch.randn(size, size) / size**0.5 for _ in range(depth))

    def forward(self, x):
        for w in self.weights:
            x = torch.tanh(x @ w)
        return x


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def linear_model(model_dir) -> Path:
    torch.manual_seed(0)
    return save_torchscript(torch.nn.Linear(16, 4), torch.randn(2, 16), model_dir / "linear.pt", input_names=["x"])


@pytest.fixture(scope="session")
def matmul_model(model_dir) -> Path:
    torch.manual_seed(0)
    return save_torchscript(MatmulChain(), torch.randn(4, 192), model_dir / "matmul.pt", input_names=["x"])


@pytest.fixture(scope="session")
def noop_model(model_dir) -> Path:
    return save_torchscript(Identity(), torch.randn(1, 8), model_dir / "noop.pt")


@pytest.fixture(scope="session")
def bench_binary() -> Path:
    candidate = Path(sysconfig.get_path("scripts")) / "infermeter-bench"
    found = candidate if candidate.exists() else shutil.which("infermeter-bench")
    assert found, "infermeter-bench is not installed beside the Python package"
    return Path(found)
