"""Report formats: each turns a sweep's report data into one output, behind one
protocol, so the terminal, CSV, Markdown and HTML say the same things: the
terminal, Markdown and HTML rounded alike (report.table.formatted), the CSV
in raw numbers. A single result's console summary is the engine's
(`Result.summary()`, csrc/reporters.cpp), the same text the binary prints."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
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


def report_files(data: ReportData) -> dict[str, str | bytes]:
    """Every file of a report folder, by name: the file formats and the figures."""
    return {**{f.filename: f.render(data) for f in FILE_FORMATS},
            **{f"{stem}.png": png for stem, _, png in data.figures}}


def _is_report_file(name: str) -> bool:
    return name in {f.filename for f in FILE_FORMATS} or name.endswith(".png")


def write_report_folder(folder: str | Path, files: dict[str, str | bytes]) -> Path:
    """Writes `files` as the whole content of `folder`, replacing an earlier
    report there whole: never a mix of old and new files. They are written
    into a scratch folder beside it, which is then swapped in (atomically
    where the file system can exchange two names, else by two renames). On
    any I/O error a WriteError names the file, the earlier report is
    untouched and the scratch folder is removed. A folder holding files a
    report does not write (results, say) is refused, not replaced."""
    from infermeter.torchscript_export import WriteError

    folder = Path(folder)
    existed = folder.exists()
    if existed:
        if not folder.is_dir():
            raise ValueError(f"cannot write the report into {folder}: it is a file, not a folder")
        foreign = sorted(p.name for p in folder.iterdir() if not (p.is_file() and _is_report_file(p.name)))
        if foreign:
            raise ValueError(f"cannot write the report into {folder}: it holds {foreign[0]!r}, which a report does "
                             f"not write, and a report replaces its folder whole: give it a folder of its own")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WriteError(folder, e, existed, "report") from e
    where = Path(os.path.abspath(folder))  # "." and "a/.." have names to put beside
    scratch = where.with_name(f".{where.name}.partial-{os.getpid()}")
    old = where.with_name(f".{where.name}.old-{os.getpid()}")
    target = folder
    try:
        shutil.rmtree(scratch, ignore_errors=True)  # a run of this pid before, killed
        try:
            scratch.mkdir()
            for name, content in files.items():
                target = folder / name
                with open(scratch / name, "wb") as f:
                    f.write(content.encode() if isinstance(content, str) else content)
                    f.flush()
                    os.fsync(f.fileno())
            target = folder
            if not existed or not _exchange(scratch, where):
                _swap_by_renames(scratch, where, old, existed)
        except OSError as e:
            raise WriteError(target, e, existed, "report") from e
    finally:
        # After an exchange the earlier report is at `scratch`; after the renames, at `old`.
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return folder


def _swap_by_renames(new: Path, folder: Path, old: Path, existed: bool) -> None:
    if not existed:
        os.rename(new, folder)
        return
    os.rename(folder, old)
    try:
        os.rename(new, folder)
    except BaseException:
        # A failed rename, or Ctrl-C between the two: the earlier report back in place.
        os.rename(old, folder)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swaps the names of `a` and `b` in one step (Linux renameat2 with
    RENAME_EXCHANGE); False where the system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))
