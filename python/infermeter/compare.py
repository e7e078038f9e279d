"""Two sets of results side by side, point by point, as the studies'
instance-against-instance tables."""

from __future__ import annotations

import pandas as pd

from infermeter.frame import POINT_COLUMNS, measured

SIDE_COLUMNS = {"instance": "instance", "priced_as": "priced as", "inferences_per_s": "inferences/s",
                "p95_ms": "p95 ms", "cost_per_million": "$/1M"}


def compare(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Every point measured on both sides: throughput, p95 and $/1M of each and
    the cost benefit ratio, B's cost / A's cost (below 1: B is cheaper).
    Each side's "priced as" says whether its cost is for the share of the
    instance the run held ("1 of 8 GPUs") or the whole instance.
    `report.table.formatted` rounds it for printing."""
    sides = [measured(f)[POINT_COLUMNS + list(SIDE_COLUMNS)] for f in (a, b)]
    joined = sides[0].merge(sides[1], on=POINT_COLUMNS, suffixes=(" A", " B"))
    joined["cost B/A"] = joined["cost_per_million B"] / joined["cost_per_million A"]
    renamed = {f"{column} {side}": f"{label} {side}" for column, label in SIDE_COLUMNS.items() for side in "AB"}
    return joined.rename(columns=renamed | {"batch_size": "batch"}).sort_values(
        ["model", "variant", "runner", "precision", "batch", "threads"], ignore_index=True)
