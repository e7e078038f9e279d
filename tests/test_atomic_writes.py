"""Every file infermeter produces is written whole or not at all: a scratch
file (or folder) beside the destination, renamed over it. A full disk or any
other I/O error is a one-line OSError naming the file (what `infermeter`'s
CLI prints as `infermeter: ...`, exit 1), the scratch is removed, and a file
or report already at the destination is untouched."""

from __future__ import annotations

import errno
import io
import subprocess
import sys
import textwrap

import pytest
import torch

from infermeter import export, save_torchscript
from infermeter.report import write_report
from infermeter.report.formats import write_report_folder
from infermeter.torchscript_export import WriteError

from file_limits import file_size_limit
from sweep_helpers import synthetic_record, write_records


def leftovers(folder):
    """Scratch files or folders a write left beside its destination."""
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def one_line_naming(error: BaseException, path) -> None:
    assert isinstance(error, OSError)  # cli.main prints OSError as one line, exit 1
    assert str(path) in str(error) and "\n" not in str(error)


def disk_fills_during_save(monkeypatch):
    """torch.jit.save replaced by one that writes part of the archive to what
    it is given and then fails as a full disk does. This stands in for the
    disk, not for infermeter's code: everything around the save (scratch
    file, rename, cleanup, message) is the real export. Saves into memory
    (the export's freeze round trip) touch no disk and still work."""
    real_save = torch.jit.save

    def full_disk(m, f, _extra_files=None):
        if isinstance(f, io.BytesIO):
            return real_save(m, f, _extra_files=_extra_files)
        partial = b"PK\x03\x04 half an archive"
        if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
            with open(f, "wb") as out:
                out.write(partial)
        else:
            f.write(partial)
            f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch.jit, "save", full_disk)


def good_export(path, seed=0):
    torch.manual_seed(seed)
    return export(torch.nn.Linear(4, 4), path, inputs=torch.rand(1, 4))


# ------------------------------------------------------------------ exports

def test_export_on_a_full_disk_leaves_the_earlier_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    good_export(path)
    before = path.read_bytes()
    disk_fills_during_save(monkeypatch)
    with pytest.raises(WriteError) as caught:
        good_export(path, seed=1)
    one_line_naming(caught.value, path)
    assert caught.value.errno == errno.ENOSPC
    assert "No space left on device (ENOSPC)" in str(caught.value) and "untouched" in str(caught.value)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_export_on_a_full_disk_writes_nothing_where_there_was_nothing(tmp_path, monkeypatch):
    disk_fills_during_save(monkeypatch)
    with pytest.raises(WriteError, match="nothing was written"):
        good_export(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_successful_export_replaces_the_file(tmp_path):
    path = tmp_path / "model.pt"
    good_export(path, seed=0)
    before = path.read_bytes()
    report = good_export(path, seed=1)
    assert report.path == path and path.read_bytes() != before
    assert leftovers(tmp_path) == []
    torch.manual_seed(1)
    second = torch.nn.Linear(4, 4)
    x = torch.rand(3, 4)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(path))(x), second(x))


def test_save_torchscript_on_a_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    save_torchscript(torch.nn.Linear(4, 4), torch.rand(1, 4), path)
    before = path.read_bytes()
    disk_fills_during_save(monkeypatch)
    with pytest.raises(WriteError) as caught:
        save_torchscript(torch.nn.Linear(4, 4), torch.rand(1, 4), path)
    one_line_naming(caught.value, path)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_export_onto_a_folder_is_one_line(tmp_path):
    (tmp_path / "model.pt").mkdir()
    with pytest.raises(WriteError) as caught:
        good_export(tmp_path / "model.pt")
    one_line_naming(caught.value, tmp_path / "model.pt")
    assert leftovers(tmp_path) == []


def test_export_when_the_kernel_refuses_to_grow_the_file(tmp_path):
    """The kernel's own failure (EFBIG past RLIMIT_FSIZE, as ENOSPC on a full
    disk), in a child process: torch's zip writer, given a path, aborts the
    process (SIGABRT) on such a failure; the export must not give it one."""
    script = textwrap.dedent(f"""
        import resource, signal, torch
        import infermeter
        from pathlib import Path
        path = Path({str(tmp_path / "model.pt")!r})
        torch.manual_seed(0)
        infermeter.export(torch.nn.Linear(64, 64), path, inputs=torch.rand(1, 64))
        before = path.read_bytes()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, resource.RLIM_INFINITY))
        torch.manual_seed(1)
        try:
            infermeter.export(torch.nn.Linear(64, 64), path, inputs=torch.rand(1, 64))
        except OSError as e:
            print("ERROR", e)
        print("SAME", path.read_bytes() == before)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert f"ERROR cannot write {tmp_path / 'model.pt'}: File too large (EFBIG)" in child.stdout
    assert "SAME True" in child.stdout
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ reports

def report_frame(tmp_path, name="r.jsonl", rate=10.0):
    from infermeter.frame import load_results

    records = [synthetic_record("m", b, 1, None, rate * b, [1.0 + b, 2.0 + b]) for b in (1, 2, 4)]
    return load_results(write_records(tmp_path / name, records))


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_report_folder_swap_replaces_the_whole_folder(tmp_path):
    folder = tmp_path / "report"
    write_report_folder(folder, {"report.html": "<p>old</p>", "summary.md": "old", "stale.png": b"\x89PNGold"})
    write_report_folder(folder, {"report.html": "<p>new</p>", "summary.md": "new"})
    assert folder_bytes(folder) == {"report.html": b"<p>new</p>", "summary.md": b"new"}  # no stale figure
    assert leftovers(tmp_path) == []


def test_report_folder_on_a_full_disk_keeps_the_earlier_report(tmp_path):
    folder = tmp_path / "report"
    write_report_folder(folder, {"report.html": "old page", "summary.csv": "a\n1\n", "fig.png": b"\x89PNG" * 10})
    before = folder_bytes(folder)
    big = b"\x89PNG" + bytes(100_000)
    with file_size_limit(50_000), pytest.raises(WriteError) as caught:
        write_report_folder(folder, {"report.html": "new page", "summary.csv": "a\n2\n", "fig.png": big})
    one_line_naming(caught.value, folder / "fig.png")
    assert caught.value.errno == errno.EFBIG and "untouched" in str(caught.value)
    assert folder_bytes(folder) == before
    assert leftovers(tmp_path) == []


def test_report_folder_swap_without_an_atomic_exchange(tmp_path, monkeypatch):
    """Where the file system cannot exchange two names, two renames swap the
    folders; a failure of the second puts the earlier report back."""
    from infermeter.report import formats

    monkeypatch.setattr(formats, "_exchange", lambda a, b: False)
    folder = tmp_path / "report"
    write_report_folder(folder, {"summary.md": "old", "old.png": b"o"})
    write_report_folder(folder, {"summary.md": "new"})
    assert folder_bytes(folder) == {"summary.md": b"new"} and leftovers(tmp_path) == []
    real_rename = formats.os.rename

    def second_rename_fails(src, dst):
        if ".partial-" in str(src):
            raise OSError(errno.EIO, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(formats.os, "rename", second_rename_fails)
    with pytest.raises(WriteError, match="report: Input/output error"):
        write_report_folder(folder, {"summary.md": "newer"})
    assert folder_bytes(folder) == {"summary.md": b"new"} and leftovers(tmp_path) == []


def test_interrupted_report_leaves_no_mix(tmp_path, monkeypatch):
    folder = tmp_path / "report"
    write_report_folder(folder, {"summary.md": "old", "a.png": b"old"})
    calls = []

    def interrupt_on_second(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("infermeter.report.formats.os.fsync", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        write_report_folder(folder, {"summary.md": "new", "a.png": b"new"})
    assert folder_bytes(folder) == {"summary.md": b"old", "a.png": b"old"} and leftovers(tmp_path) == []


def test_report_folder_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "results.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="results.jsonl"):
        write_report_folder(tmp_path, {"report.html": "page"})
    assert (tmp_path / "results.jsonl").read_text() == "{}\n"


def test_report_folder_into_a_new_nested_folder(tmp_path):
    write_report_folder(tmp_path / "a" / "b", {"summary.md": "x"})
    assert folder_bytes(tmp_path / "a" / "b") == {"summary.md": b"x"}
    assert leftovers(tmp_path / "a") == []


def test_write_report_on_a_full_disk_keeps_the_earlier_report(tmp_path):
    folder = tmp_path / "report"
    write_report(report_frame(tmp_path), folder)
    before = folder_bytes(folder)
    newer = report_frame(tmp_path, "r2.jsonl", rate=20.0)
    with file_size_limit(3000), pytest.raises(WriteError) as caught:  # the figures do not fit
        write_report(newer, folder)
    one_line_naming(caught.value, folder)
    assert folder_bytes(folder) == before
    assert leftovers(tmp_path) == []
    again = write_report(newer, folder)  # once there is room
    assert folder_bytes(folder) != before and again.html.is_file() and leftovers(tmp_path) == []
