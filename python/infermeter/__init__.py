"""infermeter: precise, reproducible measurement of PyTorch inference."""

from infermeter._native import EngineError
from infermeter.bench import benchmark
from infermeter.export import ExportCheckError, ExportReport, export
from infermeter.input_spec import InputSpec, ModelInputs
from infermeter.result import LatencySummary, Result
from infermeter.torchscript_export import save_torchscript

__all__ = ["EngineError", "ExportCheckError", "ExportReport", "InputSpec", "LatencySummary", "ModelInputs", "Result", "benchmark", "export", "save_torchscript"]
__version__ = "0.1.0"
