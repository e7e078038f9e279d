"""AOTInductor packages (.pt2): torch.export a module, compile it ahead of time
with Inductor, and carry infermeter's input spec and export facts inside the
package, where LibTorch's PyTorchStreamReader finds them as
`extra/infermeter/inputs.json` and `extra/infermeter/export.json`."""

from __future__ import annotations

import hashlib
import io
import shutil
import time
import warnings
import zipfile
from pathlib import Path

import torch
from torch.torch_version import TorchVersion

from infermeter import compile_cache
from infermeter.elf_needs import needed_libraries
from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE

# torch.export's own folder for extra files in a PT2 archive (torch.export.pt2_archive.constants.EXTRA_DIR).
EXTRA_DIR = "extra/"
INPUT_SPEC_RECORD = EXTRA_DIR + INPUT_SPEC_FILE
EXPORT_INFO_RECORD = EXTRA_DIR + EXPORT_INFO_FILE
MAX_BATCH = 4096  # upper bound of the dynamic batch dimension the compiled kernels accept


def export_program(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], batch_inputs, static_batch: bool = False):
    """An ExportedProgram. With `static_batch`, at the shapes of `inputs`
    (Inductor then chooses layouts and kernels for that one batch, as a
    TensorRT engine is built per profile). Else tries a dynamic leading dimension
    shared by every input, traced on `batch_inputs` (a batch of at least 2, as
    torch.export specializes size-1 dimensions); a model that fixes its batch
    is exported static on `inputs` instead (export() then finds, by running
    the package at another batch, which of the two it got)."""
    if not static_batch and all(t.dim() > 0 for t in batch_inputs):
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        dynamic_shapes = tuple({0: batch} for _ in batch_inputs)
        try:
            with torch.no_grad():
                return torch.export.export(module, batch_inputs, dynamic_shapes=dynamic_shapes)
        except Exception:  # noqa: BLE001 - any constraint failure means the graph fixes its batch
            pass
    with torch.no_grad():
        return torch.export.export(module, inputs)


# Where a system compiler that links libstdc++ dynamically is usually found.
FALLBACK_CXX = "/usr/bin/g++"


class StaticCxxRuntimeError(ValueError):
    """AOTInductor's compiler linked the C++ runtime into the package."""


def models_link_cxx_runtime(package: Path) -> bool:
    """Whether every compiled model in the package needs the shared libstdc++
    (else loading it into a Python process segfaults)."""
    with zipfile.ZipFile(package) as archive:
        objects = [n for n in archive.namelist() if "/data/aotinductor/" in n and n.endswith(".so")]
        return all("libstdc++.so.6" in needed_libraries(archive.read(n)) for n in objects)


def compile_package(program, folder: Path, inductor_options: dict, device: torch.device,
                    use_cache: bool = True) -> tuple[Path, dict]:
    """The package of `program` compiled with `inductor_options`: from the
    compile cache when it holds one (compile_cache.py), else compiled under
    `folder` and cached. Returns it with its compile facts: compiler,
    compile_s (the compile's own time, also on a cache hit) and compile_cache
    (hit, miss or off)."""
    compiler = str(torch._inductor.config.cpp.cxx[-1] or "c++")
    key = compile_cache.package_key(program, inductor_options, device, compiler) if use_cache else None
    if key and (hit := compile_cache.lookup(key)):
        # Loaded next (the export's numeric check) and approved by the digests
        # the export records: only while its libraries are the ones compiled.
        # Checked and used as one copy, so the entry cannot change in between.
        copy = folder / "cached.pt2"
        try:
            shutil.copyfile(hit.path, copy)
            intact = native_library_digests(copy) == hit.native_libraries
        except (OSError, RuntimeError):  # unreadable or truncated: compiled again
            intact = False
        if intact:
            return copy, {"compiler": hit.compiler, "compile_s": hit.compile_s, "compile_cache": "hit",
                          "native_libraries": hit.native_libraries}
        warnings.warn(f"the cached package {hit.path} holds native libraries other than the ones compiled into it, "
                      "or cannot be read: not loaded; compiling again", stacklevel=2)
    started = time.perf_counter()
    path, compiler = _compiled(program, folder / "compiled.pt2", inductor_options, compiler)
    compile_s = round(time.perf_counter() - started, 3)
    libraries = native_library_digests(path)
    if key:
        compile_cache.store(key, path, compile_s, compiler, libraries)
    return path, {"compiler": compiler, "compile_s": compile_s, "compile_cache": "miss" if key else "off",
                  "native_libraries": libraries}


def native_library_digests(package: Path) -> dict[str, str]:
    """The SHA-256 of each native library in the package, by its record name
    as the engine's reader lists it. Loading a package runs these libraries'
    code, so the engine loads one without --trust only when every library's
    digest is one recorded here, at export (csrc/aoti_runner.cpp)."""
    reader = torch._C.PyTorchFileReader(str(package))
    return {name: hashlib.sha256(bytes(reader.get_record(name))).hexdigest()
            for name in reader.get_all_records() if name.endswith(".so")}


class CompileError(RuntimeError):
    """AOTInductor could not compile a package (its compiler failed)."""


def _compile_into(program, path: Path, inductor_configs: dict) -> None:
    """Compiles and packages `program` into `path`. torch packages into
    memory and Python writes the file: torch's archive writer given a path
    aborts the process (std::terminate) when the disk fills."""
    from infermeter.torchscript_export import write_atomically

    buffer = io.BytesIO()
    try:
        torch._inductor.aoti_compile_and_package(program, package_path=buffer, inductor_configs=inductor_configs)
    except torch._inductor.exc.InductorError as e:
        # torch's message is the compiler's whole command and output; its last error line says why
        # (a full disk, a file-size limit, a missing header).
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()] or lines or [type(e).__name__]
        raise CompileError(f"AOTInductor could not compile the package: {errors[-1]}") from None
    write_atomically(path, buffer.getbuffer())


def _compiled(program, path: Path, inductor_options: dict, compiler: str) -> tuple[Path, str]:
    """Compiles with AOTInductor; returns the package with the C++ compiler
    that built it. A package whose model carries a static copy of libstdc++
    (as /opt/gcc's g++ wrapper builds them) segfaults when loaded into any
    Python process, the exporter's own check included (docs/aoti.md), so it is
    compiled again with the system's g++, or refused with the way out."""
    _compile_into(program, path, dict(inductor_options))
    if models_link_cxx_runtime(path):
        return path, compiler
    # A bare compiler name is looked up on PATH, as the compile itself does.
    used = Path(shutil.which(compiler) or compiler).resolve()
    if Path(FALLBACK_CXX).is_file() and used != Path(FALLBACK_CXX).resolve():
        _compile_into(program, path, {**inductor_options, "cpp.cxx": (None, FALLBACK_CXX)})
        if models_link_cxx_runtime(path):
            return path, FALLBACK_CXX
    raise StaticCxxRuntimeError(
        f"AOTInductor compiled this package with {compiler}, which linked libstdc++ statically into the model; "
        "such a package segfaults when loaded in a Python process. Set CXX to a compiler that links libstdc++ "
        f"dynamically (e.g. CXX={FALLBACK_CXX}) and export again")


# Given the .pt2 itself, torch's loader unpacks it into a temp folder of its
# own, which it leaves behind when loading fails; from torch 2.14 on (pytorch
# #172436) it also loads the folder a package was unpacked into, and leaves
# that folder to its owner (as csrc/aoti_runner.cpp does).
LOADS_UNPACKED_FOLDERS = TorchVersion(torch.__version__) >= (2, 14)


def load_package(path: str | Path, device: torch.device, unpack_into: Path):
    """The package at `path`, loaded from a copy unpacked into `unpack_into`
    (a folder the caller owns and removes once done with the model) where
    torch loads from one."""
    from torch.export.pt2_archive._package import AOTICompiledModel

    index = device.index if device.type == "cuda" and device.index is not None else -1
    if not LOADS_UNPACKED_FOLDERS:
        return torch._inductor.aoti_load_package(str(path), device_index=index)
    try:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(unpack_into)
    except OSError as e:  # a full temp directory: name where, not only the errno
        from infermeter.torchscript_export import WriteError

        raise WriteError(unpack_into, e, existed=False, what="unpacked package") from e
    return AOTICompiledModel(torch._C._aoti.AOTIModelPackageLoader(str(unpack_into), "model", False, 1, index))


def write_package(compiled: Path, output: Path, input_spec_json: str, export_facts_json: str) -> None:
    """Copies the compiled package record by record into `output` (through
    torch's own archive writer, so the zip stays what PyTorchStreamReader
    expects) and adds infermeter's two records. The archive is built in
    memory and written by Python, whole or not at all: torch's writer given a
    path aborts the process (std::terminate) when the disk fills."""
    from torch.export.pt2_archive._package import PT2ArchiveReader, PT2ArchiveWriter

    from infermeter.torchscript_export import write_atomically

    reader = PT2ArchiveReader(str(compiled))
    buffer = io.BytesIO()
    with PT2ArchiveWriter(buffer) as writer:
        for name in reader.get_file_names():
            if not writer.has_record(name):  # the writer adds its own version records
                writer.write_bytes(name, reader.read_bytes(name))
        writer.write_string(INPUT_SPEC_RECORD, input_spec_json)
        writer.write_string(EXPORT_INFO_RECORD, export_facts_json)
    write_atomically(output, buffer.getbuffer())


def read_package_facts(path: str | Path) -> tuple[str, str]:
    """(input spec JSON, export facts JSON) stored in an infermeter .pt2."""
    reader = torch._C.PyTorchFileReader(str(path))
    missing = [r for r in (INPUT_SPEC_RECORD, EXPORT_INFO_RECORD) if not reader.has_record(r)]
    if missing:
        raise ValueError(f"{path} was not exported by infermeter: it has no {' or '.join(missing)}")
    return tuple(bytes(reader.get_record(r)).decode() for r in (INPUT_SPEC_RECORD, EXPORT_INFO_RECORD))

