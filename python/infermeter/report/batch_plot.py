"""The figure of the batches a dynamic batcher formed: for each
dynamic-batching point, the share of its batches that held each number of
items (Result.batching's batches_by_items). It shows whether a batcher's
settings let batches fill at the rate it ran: at a low rate or without a
queue delay most batches go with one request, near capacity they fill."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from infermeter.frame import measured, point_label
from infermeter.options import DYNAMIC_BATCHING
from infermeter.report.canvas import finished, new_figure


@dataclass
class BatchDistribution:
    label: str  # the point: its series, load and batcher settings
    sizes: list[int]  # items in a batch, ascending
    shares: list[float]  # of the point's batches, each size's share (they sum to 1)


def batch_distributions(frame: pd.DataFrame) -> list[BatchDistribution]:
    """One distribution per measured dynamic-batching point that formed a batch."""
    ok = measured(frame)
    out = []
    for _, row in ok[ok["load"] == DYNAMIC_BATCHING].iterrows():
        counts = row["result"].batching.batches_by_items
        total = sum(counts.values())
        if total:
            sizes = sorted(counts)
            out.append(BatchDistribution(point_label(row), sizes, [counts[n] / total for n in sizes]))
    return out


def batch_size_distribution(distributions: list[BatchDistribution]) -> bytes:
    fig, ax = new_figure()
    for d in distributions:
        ax.plot(d.sizes, np.array(d.shares) * 100, marker="o", label=d.label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # a batch holds whole items
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    return finished(fig, ax, "items in a batch", "share of batches (%)")
