"""What a backend is: where models are compiled for, how its runtime is set up
before the first model loads, and what device the engine then drives."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass


class BackendUnavailable(ValueError):
    """The backend's SDK is not installed in this environment."""


@dataclass(frozen=True)
class Sdk:
    module: str  # what must import
    package: str  # what to install
    instances: str  # where it runs
    install: str  # how to install it

    def check(self, backend: str) -> None:
        """Raises BackendUnavailable when the SDK is missing, without importing
        it: importing may start its runtime before its environment is set."""
        if importlib.util.find_spec(self.module) is None:
            self._unavailable(backend, "not found")

    def load(self, backend: str):
        try:
            return importlib.import_module(self.module)
        except ImportError as e:
            self._unavailable(backend, str(e))

    def _unavailable(self, backend: str, why: str):
        raise BackendUnavailable(
            f"backend {backend!r} needs {self.package} (Python module {self.module!r}), which is not installed "
            f"here ({why}). It runs on {self.instances}; install it there with: {self.install}") from None


NEURON_INDEX = "--extra-index-url=https://pip.repos.neuron.amazonaws.com"
