"""A cache of compiled AOTInductor packages, so that a sweep or a second
export never compiles the same package again (BERT-base took 106 s on an
H100). The key is what decides the compiled code: the exported program's
graph and weights (so the model, its options, precision and batch shape), the
Inductor options, the torch version, the device's compute capability (the
CPU's vector ISA on the CPU) and the C++ compiler. Entries are written whole
or not at all, so concurrent sweep workers may share one cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

CACHE_ENV = "INFERMETER_CACHE"


def cache_folder() -> Path:
    """$INFERMETER_CACHE, else $XDG_CACHE_HOME/infermeter, else ~/.cache/infermeter; packages under aoti/."""
    root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "infermeter"
    return Path(root) / "aoti"


def device_identity(device: torch.device) -> str:
    """What the compiled kernels are specific to on `device`."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"cuda sm_{major}{minor} {torch.cuda.get_device_name(device)}"
    return f"{device.type} {torch.backends.cpu.get_cpu_capability()}"


def _hash_tensor(h, name: str, t) -> None:
    h.update(name.encode())
    if not isinstance(t, torch.Tensor):
        h.update(repr(t).encode())
        return
    h.update(f"{t.dtype} {tuple(t.shape)}".encode())
    flat = t.detach().contiguous().cpu().reshape(-1)
    h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")


def _value_text(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {tuple(value.shape)} {tuple(value.stride())} {value.device}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_value_text(v) for v in value) + ")"
    return repr(value)


def package_key(program, inductor_options: dict, device: torch.device, compiler: str) -> str:
    """The cache key of compiling `program` with `inductor_options` for `device`."""
    h = hashlib.sha256()
    h.update(str(program.graph).encode())
    # The graph's text names its nodes but not their shapes: a static program
    # at batch 1 and at batch 32 print alike, so every node's value (shape,
    # stride, dtype, device) is part of the key.
    for node in program.graph.nodes:
        h.update(f"{node.name}:{_value_text(node.meta.get('val'))}".encode())
    h.update(repr(sorted((str(k), str(v)) for k, v in program.range_constraints.items())).encode())
    for name, value in sorted({**program.state_dict, **program.constants}.items()):
        _hash_tensor(h, name, value)
    h.update(json.dumps({"inductor": inductor_options, "torch": torch.__version__,
                         "device": device_identity(device), "compiler": compiler}, sort_keys=True).encode())
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class CachedPackage:
    path: Path
    compile_s: float  # what compiling it took when it was compiled
    compiler: str
    # The SHA-256 of each native library as compiled, which the cached file
    # must still match: an export records its package's digests from them.
    native_libraries: dict[str, str]


def lookup(key: str) -> CachedPackage | None:
    package, facts = cache_folder() / f"{key}.pt2", cache_folder() / f"{key}.json"
    if not (package.is_file() and facts.is_file()):
        return None
    try:
        stored = json.loads(facts.read_text())
        libraries = stored["native_libraries"]
        if not isinstance(libraries, dict) or not libraries:
            return None
        return CachedPackage(package, float(stored["compile_s"]), str(stored["compiler"]),
                             {str(k): str(v) for k, v in libraries.items()})
    except (ValueError, KeyError, TypeError, OSError):
        return None  # a damaged entry is compiled again and replaced


def store(key: str, package: Path, compile_s: float, compiler: str, native_libraries: dict[str, str]) -> None:
    """Adds a compiled package with its libraries' digests as compiled; a
    cache that cannot be written is skipped, with a warning, since the export
    itself succeeded."""
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for suffix, write in ((".pt2", lambda p: shutil.copyfile(package, p)),
                              (".json", lambda p: p.write_text(json.dumps({"compile_s": compile_s, "compiler": compiler,
                                                                           "native_libraries": native_libraries})))):
            with tempfile.NamedTemporaryFile(dir=folder, suffix=suffix, delete=False) as partial:
                partial_path = Path(partial.name)
            try:
                write(partial_path)
                partial_path.replace(folder / f"{key}{suffix}")
            finally:
                partial_path.unlink(missing_ok=True)
    except OSError as e:
        import warnings

        warnings.warn(f"the AOTInductor compile cache at {folder} cannot be written ({e}); the package was not "
                      f"cached (set {CACHE_ENV} to a writable folder)", stacklevel=2)
