"""The report's figures of what each capacity point used besides time, against
batch size: peak memory (the device's and the host's) and energy per
inference. Results from before memory and energy were measured, and runs
where they could not be read (no GPU, no RAPL), have none: the figure is then
left out, and a note says why."""

from __future__ import annotations

import pandas as pd

from infermeter.report.per_batch import per_batch

# A series' device peak and host peak: two lines in its one colour, the legend naming each.
MEMORY_COLUMNS = {"device_peak_mb": ", device peak", "host_peak_mb": ", host peak RSS"}
ENERGY_COLUMNS = {"joules_per_inference": ""}
ENERGY_UNITS = ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"))  # (joules in one, name), largest first


def _measured(capacity: pd.DataFrame, columns: dict[str, str]) -> dict[str, str]:
    """The columns some point measured; a frame made before these columns
    existed has none of them."""
    return {c: suffix for c, suffix in columns.items() if c in capacity and capacity[c].notna().any()}


def memory_vs_batch(capacity: pd.DataFrame, columns: dict[str, str]) -> bytes:
    largest = capacity[list(columns)].max().max()
    unit, scale = ("GiB", 1024.0) if largest >= 1024 else ("MiB", 1.0)
    return per_batch(capacity, columns, f"peak memory ({unit})", scale=scale)


def energy_vs_batch(capacity: pd.DataFrame, columns: dict[str, str]) -> bytes:
    largest = capacity[list(columns)].max().max()
    scale, unit = next(((j, name) for j, name in ENERGY_UNITS if largest >= j), ENERGY_UNITS[-1])
    return per_batch(capacity, columns, f"energy per inference ({unit})", scale=scale)


def resource_figures(capacity: pd.DataFrame) -> list[tuple[str, str, bytes]]:
    """(file stem, title, PNG) of the memory and energy figures the capacity points allow."""
    out = []
    memory, energy = _measured(capacity, MEMORY_COLUMNS), _measured(capacity, ENERGY_COLUMNS)
    if memory:
        out.append(("memory_vs_batch", "Peak memory against batch size over the measuring phase: the device's "
                    "(the process as NVML sees it, else the allocator's reserved) and the host's peak RSS (the "
                    "whole process)", memory_vs_batch(capacity, memory)))
    if energy:
        out.append(("energy_vs_batch", "Energy per inference against batch size: the GPU's counter (NVML) for a "
                    "GPU run, else every CPU package's (RAPL, whatever else ran on them)",
                    energy_vs_batch(capacity, energy)))
    return out


def _why_unmeasured(capacity: pd.DataFrame, section: str) -> str:
    """Why no result states `section` ("memory" or "energy"): its results
    predate it, or the reasons the results give (e.g. "GPU: not a GPU run")."""
    docs = [getattr(result, section) for result in capacity["result"]]
    if all(doc is None for doc in docs):
        return f"these results predate {section} measurement"
    reasons = dict.fromkeys(f"{figure}: {why}" for doc in docs if doc for figure, why in doc.unavailable.items())
    return "; ".join(reasons) or "not in these results"


def unavailable_resource_figures(capacity: pd.DataFrame) -> list[str]:
    """A note for each of the memory and energy figures left out, saying why;
    none when there is no capacity point to draw against batch size."""
    if capacity.empty:
        return []
    notes = []
    if not _measured(capacity, MEMORY_COLUMNS):
        notes.append(f"No figure of peak memory against batch size: {_why_unmeasured(capacity, 'memory')}.")
    if not _measured(capacity, ENERGY_COLUMNS):
        notes.append(f"No figure of energy per inference against batch size: {_why_unmeasured(capacity, 'energy')}.")
    return notes
