"""The one finishing step every report figure shares, with matplotlib drawing
off-screen."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


# More series than this and the legend goes beside the axes.
LEGEND_INSIDE_AT_MOST = 6


def new_figure():
    return plt.subplots(figsize=(8, 4.5))


def finished(fig, ax, xlabel: str, ylabel: str) -> bytes:
    """Labels, grid and legend as every figure has them, as PNG bytes."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0]
    if len(handles) > LEGEND_INSIDE_AT_MOST:  # beside the axes, so that it hides no curve
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.set_size_inches(12, 4.5)
    elif handles:  # a figure whose every value is missing has nothing to name
        ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.tight_layout()
    # Tight: a legend beside the axes keeps its longest labels (a dynamic batcher's settings) whole.
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
