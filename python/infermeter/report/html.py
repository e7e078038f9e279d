"""The report as one self-contained HTML page: figures inlined as data URIs,
so it can be mailed or archived as a single file."""

from __future__ import annotations

import base64
import datetime
import html

import pandas as pd

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}figure{margin:1.5em 0}img{max-width:100%}figcaption{font-weight:600}"""


def page(title: str, sources: list[str], table: pd.DataFrame, problems: pd.DataFrame, knees: dict,
         figures: list[tuple[str, str, bytes]], notes: list[str] = ()) -> str:
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Generated {datetime.datetime.now().isoformat(timespec='seconds')} from: "
             + ", ".join(f"<code>{html.escape(s)}</code>" for s in sources) + "</p>",
             "<h2>Summary</h2>", table.to_html(index=False, na_rep="", classes="summary", border=0),
             *(f"<p class='note'>{html.escape(note)}</p>" for note in notes)]
    if knees:
        parts.append("<h2>Knees</h2><ul>" + "".join(
            f"<li>{html.escape(label)}: {'batch ' + str(k) if k is not None else 'no knee in the measured range'}</li>"
            for label, k in knees.items()) + "</ul>")
    if not problems.empty:
        parts += ["<h2>Points without a result</h2>", problems.to_html(index=False, na_rep="", border=0)]
    parts.append("<h2>Figures</h2>")
    for stem, caption, png in figures:
        data = base64.b64encode(png).decode()
        parts.append(f"<figure id='{stem}'><figcaption>{html.escape(caption)}</figcaption>"
                     f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
