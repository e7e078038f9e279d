"""`infermeter report`: the summary table (terminal, Markdown, CSV), the
figures as PNG files and one self-contained HTML page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from infermeter.analysis import knees
from infermeter.frame import measured, series_label
from infermeter.report.html import page
from infermeter.report.plots import figures
from infermeter.report.table import failures, formatted, summary_table

MAX_CHOSEN = 8


@dataclass
class Report:
    folder: Path
    html: Path
    figures: list[Path]
    terminal: str


def chosen_points(frame: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """The points whose latency distribution and timeline are drawn: the given
    keys, else each series' knee (or its best throughput without a knee)."""
    ok = measured(frame)
    if keys:
        missing = set(keys) - set(ok["key"])
        if missing:
            raise ValueError(f"no measured point with key {sorted(missing)[0]!r}; keys look like {ok['key'].iloc[0]!r}")
        return ok[ok["key"].isin(keys)]
    rows = []
    knee_of = knees(frame)
    for label, group in ok.groupby(ok.apply(series_label, axis=1), sort=False):
        knee = knee_of.get(label)
        pick = group[group["batch_size"] == knee] if knee is not None else group.nlargest(1, "inferences_per_s")
        rows.append(pick.iloc[0])
    return pd.DataFrame(rows[:MAX_CHOSEN])


def write_report(frame: pd.DataFrame, folder: str | Path, *, points: list[str] | None = None,
                 title: str = "infermeter report") -> Report:
    if measured(frame).empty:
        raise ValueError("no point in these results was measured successfully: nothing to report")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = summary_table(frame)
    shown = formatted(table)
    table.to_csv(folder / "summary.csv", index=False)
    (folder / "summary.md").write_text(shown.to_markdown(index=False) + "\n")
    drawn = figures(frame, chosen_points(frame, points))
    paths = []
    for stem, _, png in drawn:
        paths.append(folder / f"{stem}.png")
        paths[-1].write_bytes(png)
    problems = failures(frame)
    sources = list(dict.fromkeys(frame["source"]))
    html_path = folder / "report.html"
    html_path.write_text(page(title, sources, shown, problems, knees(frame), drawn))
    terminal = shown.to_string(index=False)
    if not problems.empty:
        terminal += "\n\nnot measured:\n" + problems.to_string(index=False)
    return Report(folder, html_path, paths, terminal)
