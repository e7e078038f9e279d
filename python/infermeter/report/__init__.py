"""`infermeter report`: the summary table (terminal, Markdown, CSV), the
figures as PNG files and one self-contained HTML page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from infermeter.analysis import knees
from infermeter.frame import WHOLE, capacity_points, curve_label, measured
from infermeter.report.plots import figures
from infermeter.report.resource_plot import unavailable_resource_figures
from infermeter.report.table import failures, summary_table
from infermeter.report.formats import ReportData, TerminalFormat, report_files, write_report_folder

MAX_CHOSEN = 8


@dataclass
class Report:
    folder: Path
    html: Path
    figures: list[Path]
    terminal: str


def _with_latencies(points: pd.DataFrame) -> pd.DataFrame:
    """The measured points that completed a request: a run that measured none
    (outcome no_samples) has no latency distribution to draw."""
    ok = measured(points)
    return ok.loc[[r.judged_histogram is not None for r in ok["result"]]]


def chosen_points(frame: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """The points whose latency distribution and timeline are drawn: the given
    keys (any measured point with latencies), else each capacity series' knee
    (or its best throughput without a knee)."""
    drawable = _with_latencies(frame)
    if keys:
        missing = sorted(set(keys) - set(drawable["key"]))
        if missing:
            example = f"; keys look like {drawable['key'].iloc[0]!r}" if not drawable.empty else ""
            raise ValueError(f"no point with key {missing[0]!r} has latencies to draw (measured, with a request "
                             f"completed){example}")
        return drawable[drawable["key"].isin(keys)]
    rows = []
    knee_of = knees(frame)
    capacity = _with_latencies(capacity_points(frame))
    if capacity.empty:
        return capacity
    for label, group in capacity.groupby(capacity.apply(curve_label, axis=1), sort=False):
        # Empty without a knee, or when the knee's run measured no request.
        at_knee = group[group["batch_size"] == knee_of.get(label)]
        rows.append((group.nlargest(1, "inferences_per_s") if at_knee.empty else at_knee).iloc[0])
    return pd.DataFrame(rows[:MAX_CHOSEN])


def pricing_notes(frame: pd.DataFrame) -> list[str]:
    """Says how costs were priced when any point held part of its instance."""
    ok = measured(frame)
    if "priced_as" not in ok or not (ok["priced_as"].notna() & (ok["priced_as"] != WHOLE)).any():
        return []
    return ["$/1M is priced by the share of the instance each run held (column 'priced as', e.g. 1 of 8 GPUs); "
            "in Python, load_results(..., pricing=\"instance\") prices whole instances instead."]


def write_report(frame: pd.DataFrame, folder: str | Path, *, points: list[str] | None = None,
                 title: str = "infermeter report") -> Report:
    if measured(frame).empty:
        raise ValueError("no point in these results was measured successfully: nothing to report")
    folder = Path(folder)
    drawn = figures(frame, chosen_points(frame, points))
    data = ReportData(title, list(dict.fromkeys(frame["source"])), summary_table(frame), failures(frame),
                      knees(frame), drawn, pricing_notes(frame) + unavailable_resource_figures(capacity_points(frame)))
    # The whole folder, or the earlier report untouched: never a mix of old and new files.
    write_report_folder(folder, report_files(data))
    return Report(folder, folder / "report.html", [folder / f"{stem}.png" for stem, _, _ in drawn],
                  TerminalFormat().render(data))
