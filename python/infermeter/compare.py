"""Two sets of results side by side, point by point, as the studies'
instance-against-instance tables."""

from __future__ import annotations

import pandas as pd

from infermeter.frame import POINT_COLUMNS, SETUP_COLUMNS, informative, measured

SIDE_COLUMNS = {"instance": "instance", "priced_as": "priced as", "inferences_per_s": "inferences/s",
                "throughput_lo": "inf/s lo", "throughput_hi": "inf/s hi", "interval": "interval", "repeat_cv": "run CV",
                "p95_ms": "p95 ms", "cost_per_million": "$/1M", "host_peak_mb": "host peak MiB",
                "device_peak_mb": "device peak MiB", "joules_per_inference": "J/inference"}
NOISE = "throughput B vs A"
WITHIN_NOISE = "within noise"
# Within-run intervals leave out what moves between processes (docs/intervals.md): a
# verdict drawn from them says so.
ONE_RUN_EACH = " (within-run intervals only: repeat to judge across runs)"


def _noise(row) -> str | None:
    """Whether the two throughput intervals (95%) overlap: then neither side
    is shown to be faster. None when a side has no interval. Unless both
    sides state across-run intervals (repeated points), the verdict carries
    ONE_RUN_EACH: run-to-run noise can make a difference or hide one."""
    lo_a, hi_a, lo_b, hi_b = (row[f"throughput_{end} {side}"] for side in "AB" for end in ("lo", "hi"))
    if pd.isna([lo_a, hi_a, lo_b, hi_b]).any():
        return None
    if lo_b <= hi_a and lo_a <= hi_b:
        verdict = WITHIN_NOISE
    else:
        verdict = "B higher" if lo_b > hi_a else "B lower"
    across = all(str(row[f"interval {side}"]).startswith("across") for side in "AB")
    return verdict if across else verdict + ONE_RUN_EACH


def compare(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Every point measured on both sides: throughput (with its 95% interval,
    which kind it is, and run-to-run CV where measured), p95 and $/1M of each, whether the
    throughputs differ beyond noise, and the cost benefit ratio, B's cost /
    A's cost (below 1: B is cheaper); memory peaks and energy per inference
    of each where measured. Each side's "priced as" says whether its cost is
    for the share of the instance the run held ("1 of 8 GPUs") or the whole
    instance. Columns with nothing measured (on either side: older results
    have no memory or energy) are left out. `report.table.formatted` rounds
    it for printing."""
    sides = [measured(f)[POINT_COLUMNS + list(SIDE_COLUMNS)] for f in (a, b)]
    joined = sides[0].merge(sides[1], on=POINT_COLUMNS, suffixes=(" A", " B"))
    joined[NOISE] = pd.Series([_noise(row) for _, row in joined.iterrows()], index=joined.index, dtype=object)
    joined["cost B/A"] = joined["cost_per_million B"] / joined["cost_per_million A"]
    shown = [c for c in joined.columns if c in SETUP_COLUMNS or informative(joined[c])]
    renamed = {f"{column} {side}": f"{label} {side}" for column, label in SIDE_COLUMNS.items() for side in "AB"}
    table = joined[shown].fillna({NOISE: ""}).rename(columns=renamed | {"batch_size": "batch", "load_point": "load"})
    order = ["model", "variant", "runner", "precision", "batch", "threads", "load"]
    return table.sort_values([c for c in order if c in table], ignore_index=True)
