"""Sweeps: grids of points from a validated config, run and stored one
record at a time."""

from infermeter.sweep.config import ConfigError, SweepConfig, load_config
from infermeter.sweep.grid import Point, expand
from infermeter.sweep.execute import SweepOutcome, run_sweep

__all__ = ["ConfigError", "Point", "SweepConfig", "SweepOutcome", "expand", "load_config", "run_sweep"]
