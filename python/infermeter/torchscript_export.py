"""Turns an nn.Module into a TorchScript file the engine can run, with its
input spec and export facts embedded; and the atomic file writing every
file infermeter produces from Python goes through."""

from __future__ import annotations

import errno
import io
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import torch

from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, InputSpec, ModelInputs


@contextmanager
def quiet_torchscript():
    """TorchScript is deprecated from torch 2.10 but is what the engine runs;
    its deprecation notices are expected and not the user's concern. Tracer
    warnings about the model itself still show."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        yield


class WriteError(OSError):
    """A file could not be written whole (a full disk, no permission, a folder
    in the way): the destination is as it was and no scratch file remains."""

    def __init__(self, path: str | Path, cause: OSError, existed: bool, what: str = "file"):
        code = errno.errorcode.get(cause.errno, "") if cause.errno else ""
        super().__init__(f"cannot write {path}: {cause.strerror or cause}" + (f" ({code})" if code else "") +
                         (f"; the {what} there before is untouched" if existed else "; nothing was written"))
        self.errno = cause.errno


def scratch_path(path: Path) -> Path:
    """Where a file for `path` is written before it is renamed over it: the
    same folder (a rename across file systems is not atomic), named per process."""
    return path.with_name(f"{path.name}.partial-{os.getpid()}")


def check_writable(path: str | Path, inputs: Sequence[str | Path] = ()) -> None:
    """What atomic_file would find only after the work: a WriteError naming
    `path` when its folder is missing, it is a folder, or it is a special
    file (a device, a pipe: the rename would replace it); ValueError when it
    is one of `inputs` (a weights file the export reads)."""
    path = Path(path)
    for given in inputs:
        if Path(given).exists() and path.resolve() == Path(given).resolve():
            raise ValueError(f"{path} is an input of this export ({given}): choose another output path")
    if path.is_dir():
        raise WriteError(path, IsADirectoryError(errno.EISDIR, "it is a folder"), existed=False)
    if path.exists() and not path.is_file():
        raise WriteError(path, OSError(errno.EINVAL, "not a regular file (a device, pipe or socket), which the "
                                                     "rename would replace"), existed=True)
    if not path.parent.is_dir():
        raise WriteError(path, FileNotFoundError(errno.ENOENT, f"its folder {path.parent} does not exist"),
                         existed=False)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write `path` through: a scratch file in the same
    folder, flushed to disk and renamed over `path` when the block ends
    without an error. Any OSError (ENOSPC included) becomes a WriteError
    naming `path`; the scratch file is removed whatever happens, so `path`
    holds the whole new file or what it held before."""
    path = Path(path)
    check_writable(path)
    existed = path.exists()
    scratch = scratch_path(path)
    try:
        try:
            with open(scratch, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(scratch, path)
        except WriteError:
            raise
        except OSError as e:
            raise WriteError(path, e, existed) from e
    finally:
        # On a read-only file system this fails too; the error worth naming is the one above.
        with suppress(OSError):
            scratch.unlink(missing_ok=True)


def write_atomically(path: str | Path, data: bytes | str) -> None:
    """`data` (text is UTF-8) into `path` whole, or a WriteError and `path` as it was."""
    with atomic_file(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def save_atomically(compiled: torch.jit.ScriptModule, path: str | Path, extra_files: dict[str, str]) -> None:
    """torch.jit.save into `path` whole or not at all. torch serializes to
    memory and Python writes the bytes: given a path, torch's own zip writer
    aborts the process (std::terminate) when the disk fills."""
    with atomic_file(path) as f, quiet_torchscript():
        torch.jit.save(compiled, f, _extra_files=extra_files)


def as_tuple(inputs: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    tensors = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError("inputs must be a tensor or a sequence of tensors")
    return tensors


def save_torchscript(module: torch.nn.Module, example_inputs, path: str | Path, *, method: str = "trace",
                     input_names: Sequence[str] | None = None, info: dict | None = None) -> Path:
    """Compiles `module` with `method` ("trace" or "script") on `example_inputs`
    and saves it to `path` with the spec of those inputs embedded."""
    tensors = as_tuple(example_inputs)
    names = list(input_names) if input_names else [f"input{i}" for i in range(len(tensors))]
    if len(names) != len(tensors):
        raise ValueError(f"{len(names)} input names for {len(tensors)} inputs")
    module = module.eval()
    with quiet_torchscript(), torch.inference_mode(False), torch.no_grad():
        if method == "trace":
            compiled = torch.jit.trace(module, tensors)
        elif method == "script":
            compiled = torch.jit.script(module)
        else:
            raise ValueError(f"method must be 'trace' or 'script', got {method!r}")
        spec = ModelInputs([InputSpec.from_tensor(n, t) for n, t in zip(names, tensors)])
        extra = {INPUT_SPEC_FILE: spec.to_json(),
                 EXPORT_INFO_FILE: json.dumps({"method": method, "torch_version": torch.__version__, **(info or {})})}
        path = Path(path)
        save_atomically(compiled, path, extra)
    return path


def freeze_for_inference(compiled: torch.jit.ScriptModule, example_inputs,
                         device) -> tuple[torch.jit.ScriptModule, dict]:
    """Freezes `compiled` (weights become constants, conv+batch-norm folds) and
    applies torch.jit.optimize_for_inference when the optimized graph survives
    a save/load round trip and runs: on the CPU that pass swaps in MKLDNN
    constants that TorchScript cannot serialize, so CPU exports usually stay
    frozen only. Returns the module as it loads back from a file, which is what
    the engine will run, and facts saying which passes were applied."""
    with quiet_torchscript():
        frozen = torch.jit.freeze(compiled.eval())
        try:
            optimized = _round_trip(torch.jit.optimize_for_inference(torch.jit.freeze(compiled.eval())), device)
            with torch.no_grad():
                optimized(*example_inputs)
            return optimized, {"frozen": True, "optimized_for_inference": True}
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return _round_trip(frozen, device), {"frozen": True, "optimized_for_inference": False,
                                                 "optimize_for_inference_skipped": reason}


def _round_trip(module: torch.jit.ScriptModule, device) -> torch.jit.ScriptModule:
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer, map_location=device)
