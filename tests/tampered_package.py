"""Copies of an infermeter-exported AOTInductor package altered the ways an
attacker would: a changed library, the export facts dropped, the library
removed (so torch's loader compiles the package's sources with the compiler
command the package names), or a record named twice."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

from infermeter.aoti_export import EXPORT_INFO_RECORD


def rewritten(package, path, change_library=None, drop_facts=False, compile_command=None):
    """A copy of `package` whose native library bytes `change_library` alters,
    or without infermeter's export facts; with `compile_command`, without its
    libraries and with compile and link flags whose "compiler" is that command."""
    from torch.export.pt2_archive._package import PT2ArchiveReader, PT2ArchiveWriter

    reader = PT2ArchiveReader(str(package))
    with PT2ArchiveWriter(str(path)) as writer:
        for name in reader.get_file_names():
            if writer.has_record(name) or (drop_facts and name == EXPORT_INFO_RECORD):
                continue
            if compile_command and name.endswith(".so"):
                continue
            data = reader.read_bytes(name)
            if change_library and name.endswith(".so"):
                data = change_library(data)
            writer.write_bytes(name, data)
            if compile_command and name.endswith(".cpp"):
                flags = {"compiler": compile_command, "compile_only": True, "cflags": [], "definitions": [],
                         "include_dirs": [], "ldflags": [], "libraries_dirs": [], "libraries": [],
                         "passthrough_args": []}
                writer.write_bytes(name[:-4] + "_compile_flags.json", json.dumps(flags).encode())
                writer.write_bytes(name[:-4] + "_linker_flags.json",
                                   json.dumps({**flags, "compile_only": False}).encode())
    return path


def with_a_second_library(package, path: Path) -> Path:
    """A copy of `package` whose zip holds its library twice under one name,
    the second copy altered: a reader that unpacks every entry keeps the last."""
    with zipfile.ZipFile(package) as source:
        records = {info.filename: source.read(info) for info in source.infolist()}
    library = next(name for name in records if name.endswith(".so"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name, which is the point
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
            for name, data in records.items():
                out.writestr(name, data)
            out.writestr(library, records[library] + b"\0")
    return path
