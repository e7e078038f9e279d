"""How the command line shows a warning: infermeter's own as one
`infermeter: ...` line on stderr, as it prints its errors, at the moment it
is raised (a sweep's "about to measure 3 days" must come before the days).
Python's form, two lines naming a source file and a line of it, is for
developers."""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path
from typing import Iterator

_PACKAGE = Path(__file__).resolve().parent


def _raised_by_infermeter(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(_PACKAGE)


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """While active, each warning raised in infermeter's code is printed as
    one line; a reader's notes every time they are raised (each names other
    files), other libraries' warnings as Python shows them."""
    from infermeter.sweep.store import READER_NOTES

    with warnings.catch_warnings():
        for category in READER_NOTES:
            warnings.simplefilter("always", category)
        python_form = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, READER_NOTES) or _raised_by_infermeter(filename):
                print(f"infermeter: {message}", file=sys.stderr)
            else:
                python_form(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield
