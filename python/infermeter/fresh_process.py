"""One measurement in a fresh Python process, for `repeat`: runs in one
process share its allocator, caches, TorchScript profiling and thread
placement, so their agreement understates how far the next run lands
(docs/intervals.md). `infermeter-bench --repeat` does the same with fresh
processes of itself (csrc/fresh_processes.h).

The parent writes the request (model file, backend, options, inputs) to a
scratch folder; the child (`python -m infermeter.fresh_process FOLDER`)
measures and writes the result document, or the error it raised, beside it."""

from __future__ import annotations

import builtins
import json
import signal
import subprocess
import sys
from pathlib import Path

from infermeter import _native

REQUEST, RESULT, FAILURE, INPUTS = "request.json", "result.json", "failure.json", "inputs.pt"
# Ctrl-C reaches the child too (one process group): it stops measuring and
# writes what it measured, which takes at most the engine's join and a save.
CHILD_STOP_S = 60.0


class FreshProcessFailed(RuntimeError):
    """The child died without saying why (a crash: its stderr is in the message)."""


class ChildInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the child; `doc` is its partial result, or None when it measured nothing."""

    def __init__(self, doc: dict | None):
        super().__init__()
        self.doc = doc


def measure(model_path: Path, backend, options: dict, inputs, scratch: Path) -> dict:
    """The result document of one run of `model_path` in a fresh process.
    Raises what the child raised (the same type where it is one of Python's
    or infermeter's, else RuntimeError), ChildInterrupted on Ctrl-C."""
    import torch

    for stale in (RESULT, FAILURE):
        (scratch / stale).unlink(missing_ok=True)
    if inputs is not None:
        torch.save(inputs, scratch / INPUTS)
    backend_doc = backend.model_dump() if hasattr(backend, "model_dump") else backend
    (scratch / REQUEST).write_text(json.dumps({"model": str(model_path), "backend": backend_doc, "options": options,
                                               "inputs": inputs is not None}, default=str))
    child = subprocess.Popen([sys.executable, "-m", "infermeter.fresh_process", str(scratch)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = child.communicate()
    except KeyboardInterrupt:
        _let_it_stop(child)
        raise ChildInterrupted(_read(scratch / RESULT)) from None
    finally:
        if child.poll() is None:  # a second Ctrl-C while it stopped: never leave it running
            child.kill()
            child.wait()
    if (scratch / FAILURE).exists():
        raise _rebuilt(json.loads((scratch / FAILURE).read_text()))
    doc = _read(scratch / RESULT)
    if child.returncode == -signal.SIGINT or (doc is not None and doc["measurement"].get("interrupted")):
        raise ChildInterrupted(doc)
    if child.returncode != 0 or doc is None:
        raise FreshProcessFailed(f"the fresh process measuring {model_path} ended with status {child.returncode} "
                                 f"and no result: {stderr.strip()[-2000:]}")
    return doc


def _let_it_stop(child: subprocess.Popen) -> None:
    """Waits for a child that got Ctrl-C too to write its partial result,
    reading its stderr meanwhile so that it never blocks on a full pipe; one
    still running after CHILD_STOP_S is killed (its result is then lost).
    A SIGINT sent to this process alone does not reach the child, which then
    finishes its run (or is killed at CHILD_STOP_S)."""
    try:
        child.communicate(timeout=CHILD_STOP_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _rebuilt(failure: dict) -> BaseException:
    kind = getattr(_native, failure["type"], None) or getattr(builtins, failure["type"], None)
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        kind = RuntimeError
    try:
        return kind(failure["message"])
    except TypeError:  # an exception whose constructor takes other arguments
        return RuntimeError(f"{failure['type']}: {failure['message']}")


def _child(scratch: Path) -> int:
    import torch

    from infermeter.backends import BackendConfig
    from infermeter.bench import benchmark
    from infermeter.result import Interrupted

    request = json.loads((scratch / REQUEST).read_text())
    backend = request["backend"]
    if isinstance(backend, dict):
        backend = BackendConfig(**backend)
    inputs = torch.load(scratch / INPUTS) if request["inputs"] else None
    try:
        result = benchmark(request["model"], inputs=inputs, backend=backend, **request["options"])
    except Interrupted as stopped:
        _native.write_file_atomically(str(scratch / RESULT), json.dumps(stopped.result.to_dict()))
        return 130
    except Exception as e:  # noqa: BLE001 - handed to the parent, which raises it
        _native.write_file_atomically(str(scratch / FAILURE), json.dumps({"type": type(e).__name__,
                                                                          "message": str(e)}))
        return 1
    _native.write_file_atomically(str(scratch / RESULT), json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
