"""infermeter: precise, reproducible measurement of PyTorch inference."""

from infermeter._native import EngineError, OutOfMemoryError
from infermeter.bench import benchmark
from infermeter.export import ExportCheckError, ExportReport, export
from infermeter.input_spec import InputSpec, ModelInputs
from infermeter.result import Interrupted, LatencySummary, Result
from infermeter.torchscript_export import save_torchscript

__all__ = ["EngineError", "ExportCheckError", "ExportReport", "InputSpec", "Interrupted", "LatencySummary",
           "ModelInputs", "OutOfMemoryError", "Result", "benchmark", "export", "load_results", "save_torchscript"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # pandas is imported only by those who read sweep results.
    if name == "load_results":
        from infermeter.frame import load_results

        return load_results
    raise AttributeError(f"module 'infermeter' has no attribute {name!r}")
