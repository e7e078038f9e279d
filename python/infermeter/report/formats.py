"""Report formats: each turns a sweep's report data into one output, behind one
protocol, so the terminal, CSV, Markdown and HTML say the same things: the
terminal, Markdown and HTML rounded alike (report.table.formatted), the CSV
in raw numbers. A single result's console summary is the engine's
(`Result.summary()`, csrc/reporters.cpp), the same text the binary prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol


if TYPE_CHECKING:
    import pandas as pd

# The table formats import pandas and the report package when they render,
# so that Result.summary() (and `infermeter run`) stays free of them.


@dataclass
class ReportData:
    """What a report shows: the summary table in raw numbers (one row per
    measured point), the points without a result, knees and figures."""

    title: str
    sources: list[str]
    table: pd.DataFrame
    problems: pd.DataFrame
    knees: dict[str, int | None] = field(default_factory=dict)
    figures: list[tuple[str, str, bytes]] = field(default_factory=list)  # (file stem, caption, PNG)
    notes: list[str] = field(default_factory=list)


class ReportFormat(Protocol):
    filename: str | None  # the file it fills in a report folder; None: the terminal

    def render(self, data: ReportData) -> str: ...


class TerminalFormat:
    filename = None

    def render(self, data: ReportData) -> str:
        from infermeter.report.table import formatted

        text = formatted(data.table).to_string(index=False)
        if not data.problems.empty:
            text += "\n\nnot measured:\n" + data.problems.to_string(index=False)
        return "\n".join([text, *data.notes])


class CsvFormat:
    """Raw numbers (latencies in ms, full precision), for further analysis."""

    filename = "summary.csv"

    def render(self, data: ReportData) -> str:
        return data.table.to_csv(index=False)


class MarkdownFormat:
    filename = "summary.md"

    def render(self, data: ReportData) -> str:
        from infermeter.report.table import formatted

        return "\n\n".join([formatted(data.table).to_markdown(index=False), *data.notes]) + "\n"


class HtmlFormat:
    """One self-contained page, figures inlined."""

    filename = "report.html"

    def render(self, data: ReportData) -> str:
        from infermeter.report.html import page
        from infermeter.report.table import formatted

        return page(data.title, data.sources, formatted(data.table), data.problems, data.knees, data.figures,
                    data.notes)


FILE_FORMATS: tuple[ReportFormat, ...] = (CsvFormat(), MarkdownFormat(), HtmlFormat())
