"""Loads the compiled engine; torch must be imported first so that its
libraries are in the process before the extension links against them."""

import torch  # noqa: F401

from infermeter._core import EngineError, OutOfMemoryError, run  # noqa: E402

__all__ = ["EngineError", "OutOfMemoryError", "run"]
