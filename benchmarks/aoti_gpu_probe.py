"""Why AOTInductor packages crash on the GPU machine, and whether C++ loads them.

Every attempt runs in its own subprocess, so that one segfault does not stop the
rest; each one's exit status (a negative status is the signal), output and time
go to OUTDIR/probe_log.txt and OUTDIR/summary.json. docs/aoti.md holds what was
found.

    python3 benchmarks/aoti_gpu_probe.py run OUTDIR [--driver-src DIR] [--json-include DIR]

DIR for --driver-src holds a CMake project for the standalone C++ driver of
csrc/aoti_runner.cpp (main.cpp, CMakeLists.txt); it is built with the torch of
this interpreter. The subcommands `compile` and `load` are the attempts themselves.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

BATCH, FEATURES = 8, 64
WORK = Path("/tmp/aoti_probe")

# A native backtrace for a crash in a process that is not ours to change
# (LD_PRELOAD): the machine has no gdb, and faulthandler shows Python frames only.
SEGV_BT_C = r"""
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>
static void on_fatal(int sig) {
  void* frames[64];
  int n = backtrace(frames, 64);
  static const char msg[] = "\n*** segv_bt: fatal signal, native backtrace:\n";
  write(2, msg, sizeof msg - 1);
  backtrace_symbols_fd(frames, n, 2);
  signal(sig, SIG_DFL);
  raise(sig);
}
__attribute__((constructor)) static void install(void) {
  signal(SIGSEGV, on_fatal);
  signal(SIGBUS, on_fatal);
  signal(SIGILL, on_fatal);
}
"""


def say(*parts) -> None:
    print(*parts, flush=True)


def mlp():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).eval()


def add_infermeter_entries(package: Path, rewrite: bool, dynamic: bool) -> None:
    """Stores the input spec and export facts as infermeter's exporter does:
    under extra/ in the archive's root folder. `rewrite` copies the package
    record by record through torch's PT2ArchiveWriter (the exporter's way);
    otherwise the records are appended with zipfile."""
    spec = json.dumps({"inputs": [{"name": "x", "shape": [-1 if dynamic else BATCH, FEATURES], "dtype": "float32", "low": -1.0,
                                   "high": 1.0}]})
    facts = json.dumps({"exporter": "aoti_gpu_probe", "model": "mlp"})
    if rewrite:
        from torch.export.pt2_archive._package import PT2ArchiveReader, PT2ArchiveWriter

        reader = PT2ArchiveReader(str(package))
        copy = package.with_suffix(".tmp")
        with PT2ArchiveWriter(str(copy)) as writer:
            for name in reader.get_file_names():
                if not writer.has_record(name):
                    writer.write_bytes(name, reader.read_bytes(name))
            writer.write_string("extra/infermeter/inputs.json", spec)
            writer.write_string("extra/infermeter/export.json", facts)
        copy.replace(package)
        return
    with zipfile.ZipFile(package) as z:
        root = z.namelist()[0].split("/")[0]
    with zipfile.ZipFile(package, "a") as z:
        z.writestr(f"{root}/extra/infermeter/inputs.json", spec)
        z.writestr(f"{root}/extra/infermeter/export.json", facts)


def compile_package(args) -> None:
    import torch

    say("torch", torch.__version__, "cxx", torch._inductor.config.cpp.cxx)
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.opt)}
    model = mlp().to(args.device)
    x = torch.rand(BATCH, FEATURES, device=args.device) * 2 - 1
    # fp16 the way infermeter's exporter makes it: export under autocast.
    autocast = torch.autocast(args.device, dtype=torch.float16, enabled=args.fp16)
    with torch.no_grad(), autocast:
        expected = model(x)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "x.bin").write_bytes(x.cpu().contiguous().numpy().tobytes())
    tolerance = 2e-2 if args.fp16 else 1e-4
    (out.parent / "expected.json").write_text(json.dumps({"sum": float(expected.float().sum()), "tol": tolerance}))
    t = time.time()
    say("exporting", "dynamic batch" if args.dynamic else "static", "fp16 autocast" if args.fp16 else "fp32")
    dynamic = ({0: torch.export.Dim("batch", min=1, max=4096)},) if args.dynamic else None
    with torch.no_grad(), autocast:
        ep = torch.export.export(model, (x,), dynamic_shapes=dynamic)
    say("compiling with", options)
    path = torch._inductor.aoti_compile_and_package(ep, package_path=str(out), inductor_configs=options)
    say(f"compiled {path} in {time.time() - t:.1f}s")
    add_infermeter_entries(out, args.rewrite, args.dynamic)
    if args.load:
        say("aoti_load_package", path, "in the compiling process")
        compiled = torch._inductor.aoti_load_package(str(out))
        say("loaded; running")
        with torch.no_grad():
            err = float((compiled(x).float() - expected.float()).abs().max())
        say(f"ran: max abs error vs eager {err:.2e}")
        if err > tolerance * 10:
            raise SystemExit(f"wrong result: max abs error {err}")
    # The package is written: leave at once, as inductor's compile workers can
    # hold a normal exit for minutes.
    sys.stdout.flush()
    os._exit(0)


def load_package(args) -> None:
    """One fresh process, one way of loading; prints each stage so that a crash
    names the stage it happened in."""
    say("importing torch")
    import torch

    path = args.package
    if args.init_cuda:
        say("initializing CUDA first")
        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
    x = torch.from_numpy(__import__("numpy").fromfile(Path(path).parent / "x.bin", dtype="float32"))
    x = x.reshape(BATCH, FEATURES).to(args.device)
    if args.stage == "full":
        expected = json.loads((Path(path).parent / "expected.json").read_text())
        say("aoti_load_package")
        compiled = torch._inductor.aoti_load_package(path)
        say("loaded; running")
        with torch.no_grad():
            total = float(compiled(x).float().sum())
        say(f"ran: output sum {total:.6f}, expected {expected['sum']:.6f}")
        if abs(total - expected["sum"]) > 10 * expected["tol"] * max(1.0, abs(expected["sum"])):
            raise SystemExit("wrong result")
    elif args.stage == "metadata":
        say("load_metadata_from_package")
        meta = torch._C._aoti.AOTIModelPackageLoader.load_metadata_from_package(path, "model")
        say("metadata", json.dumps(meta))
    elif args.stage == "loader":
        say("AOTIModelPackageLoader(path, 'model', False, 1, -1)")
        loader = torch._C._aoti.AOTIModelPackageLoader(path, "model", False, 1, -1)
        say("constructed; running")
        with torch.no_grad():
            outputs = loader.run([x])
        say(f"ran: output sum {float(outputs[0].sum()):.6f}")
    elif args.stage == "device_info":
        from torch._inductor.codecache import get_device_information

        say("get_device_information")
        say("device info", json.dumps(get_device_information(args.device.split(":")[0])))


# --------------------------------------------------------------------------- orchestration


class Probe:
    def __init__(self, outdir: Path, budget_s: float):
        self.outdir = outdir
        # Every step is cut short so that the whole probe ends within budget_s
        # and its log comes back even when something hangs.
        self.deadline = time.time() + budget_s
        self.log = open(outdir / "probe_log.txt", "w")
        self.results: list[dict] = []
        self.facts: dict = {}

    def step(self, name: str, argv: list[str], env: dict | None = None, timeout: float = 120) -> dict:
        t = time.time()
        timeout = max(5.0, min(timeout, self.deadline - t))
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        try:
            p = subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=timeout,
                               cwd=str(WORK), errors="replace")
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc = "timeout"
            out = "".join(part.decode(errors="replace") if isinstance(part, bytes) else part
                          for part in (e.stdout or "", e.stderr or ""))
        if isinstance(rc, int) and rc < 0:
            outcome = f"killed by {signal.Signals(-rc).name}"
        elif isinstance(rc, int) and rc > 128 and rc - 128 in signal.Signals._value2member_map_:
            outcome = f"exit {rc} ({signal.Signals(rc - 128).name})"
        else:
            outcome = "ok" if rc == 0 else f"exit {rc}"
        result = {"step": name, "outcome": outcome, "seconds": round(time.time() - t, 1),
                  "cmd": " ".join(argv), "env": env or {}, "tail": out[-800:]}
        self.results.append(result)
        self.log.write(f"\n===== {name}: {outcome} ({result['seconds']} s)\n$ {result['cmd']}\nenv {env}\n{out[-30000:]}\n")
        self.log.flush()
        say(f"[{time.strftime('%H:%M:%S')}] {name}: {outcome} ({result['seconds']} s)")
        return result

    def parallel(self, steps: list[tuple]) -> list[dict]:
        with futures.ThreadPoolExecutor(len(steps)) as pool:
            return list(pool.map(lambda s: self.step(*s), steps))

    def shell(self, name: str, command: str, timeout: float = 60) -> dict:
        return self.step(name, ["bash", "-c", command], timeout=timeout)

    def save(self) -> None:
        summary = {"facts": self.facts, "steps": self.results}
        (self.outdir / "summary.json").write_text(json.dumps(summary, indent=1))


def gather_facts(probe: Probe) -> None:
    import torch

    f = probe.facts
    f["python"] = sys.version
    f["platform"] = platform.platform()
    f["torch"] = torch.__version__
    f["torch_cuda"] = torch.version.cuda
    f["torch_git"] = torch.version.git_version
    f["cxx11_abi"] = bool(torch._C._GLIBCXX_USE_CXX11_ABI)
    f["inductor_cpp_cxx"] = str(torch._inductor.config.cpp.cxx)
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        f["inductor_compiler"] = get_cpp_compiler()
    except Exception as e:  # noqa: BLE001 - a fact we could not read is reported as such
        f["inductor_compiler"] = f"unknown: {e}"
    f["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        f["gpu"] = torch.cuda.get_device_name(0)
        f["capability"] = torch.cuda.get_device_capability(0)
    f["torch_lib"] = str(Path(torch.__file__).parent / "lib")
    probe.shell("facts: toolchain", "set -x; which gcc g++ c++ cc ld nvcc cmake cuda-gdb; gcc --version | head -1; "
                "g++ --version | head -1; ld --version | head -1; objcopy --version | head -1; nvcc --version | tail -2; "
                "cmake --version | head -1; ldd --version | head -1; uname -a; nvidia-smi -L; "
                "findmnt -T /tmp; df -h /tmp; ulimit -a | head -20; cat /proc/cpuinfo | grep -m1 'model name'; "
                "grep -m1 -o 'avx512[a-z_]*' /proc/cpuinfo | sort -u | head; env | grep -iE 'torch|cuda|ld_|cxx|cc=' ")
    lib = f["torch_lib"]
    inc = Path(torch.__file__).parent / "include"
    probe.shell("facts: torch libraries", f"cd {lib}; ls; nm -DC libc10.so | grep -c 'c10::Stream::native_handle'; "
                f"grep -n 'AOTIModelPackageLoader(' -A6 {inc}/torch/csrc/inductor/aoti_package/model_package_loader.h; "
                f"grep -n 'getStreamNativeHandle' {inc}/c10/core/impl/DeviceGuardImplInterface.h; "
                "ldd libtorch_cuda.so | head -30; python3 -c 'import sys; print(sys.executable)'; "
                "grep -E 'libstdc|libgcc' /proc/self/maps | awk '{print $6}' | sort -u; "
                "ls -la /usr/lib/x86_64-linux-gnu/libstdc++.so* ; strings /usr/lib/x86_64-linux-gnu/libstdc++.so.6 | grep -E '^GLIBCXX_3.4.3[0-9]' | tail -3")
    probe.shell("facts: python process", "python3 - <<'EOF'\nimport torch, re\n"
                "libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if re.search(r'libstdc|libgcc_s|libgomp|libcuda', l)})\n"
                "print('\\n'.join(libs))\nEOF")


def inspect_package(probe: Probe, package: Path) -> None:
    """Where the compiled wrapper gets its C++ runtime from: a NEEDED
    libstdc++.so.6, or libstdc++'s own code linked into it."""
    d = WORK / f"unzipped_{package.stem}"
    probe.shell(f"inspect {package.name}",
                f"rm -rf {d}; python3 -m zipfile -e {package} {d}; cd {d}; find . -type f | sort; "
                "for so in $(find . -name '*.so'); do echo == $so; ls -la $so; readelf -d $so | grep -E 'NEEDED|RPATH|RUNPATH'; "
                "readelf -p .comment $so | grep -i gcc | sort -u; "
                "echo -n 'libstdc++ internals defined here (codecvt/locale symbols): '; "
                "nm -C --defined-only $so | grep -cE 'std::codecvt<char16_t|std::locale::classic|std::locale::_Impl'; done; "
                "for j in $(find . -name '*flags.json'); do echo == $j; cat $j; echo; done")


def compiler_facts(probe: Probe) -> None:
    probe.shell("facts: the compilers", "set -x; echo CXX=$CXX CC=$CC; file /opt/gcc/bin/g++ /usr/bin/g++; "
                "/opt/gcc/bin/g++ --version | head -1; /usr/bin/g++ --version | head -1; /opt/gcc/bin/g++ -v 2>&1 | tail -4; "
                "/opt/gcc/bin/g++ -dumpspecs | grep -n -B1 -A1 -iE 'static|lstdc' | head -30; ls /opt/gcc /opt/gcc/lib* 2>&1 | head -40; "
                "/opt/gcc/bin/g++ -print-file-name=libstdc++.so; /opt/gcc/bin/g++ -print-file-name=libstdc++.a; "
                "/usr/bin/g++ -print-file-name=libstdc++.so; ls -la /usr/lib/x86_64-linux-gnu/libstdc++.so.6*")


def plan_compiler(probe: Probe, args, me: str, py: str) -> None:
    """The second run: the packages' wrapper is built by $CXX (/opt/gcc/bin/g++
    there); each package is compiled once with it and once with the system
    /usr/bin/g++, and each is loaded by Python and by C++ drivers built with
    either compiler."""
    compiler_facts(probe)

    def pkg(name: str) -> str:
        return str(WORK / name / f"{name}.pt2")

    def compile_step(name, device, cxx, load):
        # A cache of its own per compile, so that no package reuses a wrapper
        # another compiler built.
        env = {"CXX": cxx, "TORCHINDUCTOR_CACHE_DIR": str(WORK / f"cache_{name}"),
               "TORCHINDUCTOR_FORCE_DISABLE_CACHES": "1"}
        argv = [py, me, "compile", device, pkg(name)] + (["--load"] if load else [])
        return f"compile {name} with CXX={cxx}" + (" + load in the same process" if load else ""), argv, env, 200

    def build(name, cxx):
        b = WORK / name
        command = (f"cmake -S {Path(args.driver_src).resolve()} -B {b} -DCMAKE_CXX_COMPILER={cxx} -DPYTHON={py} "
                   f"-DINFERMETER_SRC={Path(me).parents[1] / 'csrc'} -DJSON_INCLUDE={args.json_include} && "
                   f"cmake --build {b} -j 6 && ldd {b}/aoti_driver | grep -E 'stdc|gcc_s' || echo 'no libstdc++.so in ldd'")
        return f"build C++ driver with {cxx}", ["bash", "-c", command], None, 200

    probe.parallel([
        compile_step("cuda_sys", "cuda", "/usr/bin/g++", True),
        compile_step("cpu_sys", "cpu", "/usr/bin/g++", True),
        compile_step("cuda_opt", "cuda", "/opt/gcc/bin/g++", False),
        build("driver_opt", "/opt/gcc/bin/g++"),
        build("driver_sys", "/usr/bin/g++"),
    ])
    probe.save()
    for name in ("cuda_sys", "cuda_opt"):
        if Path(pkg(name)).exists():
            inspect_package(probe, Path(pkg(name)))

    traced = [py, "-X", "faulthandler", me, "load"]
    probe.parallel([
        ("fresh Python load cuda_sys (system g++)", traced + [pkg("cuda_sys"), "cuda"], None, 90),
        ("fresh Python load cpu_sys (system g++)", traced + [pkg("cpu_sys"), "cpu"], None, 90),
        ("fresh Python load cuda_opt (/opt/gcc g++)", traced + [pkg("cuda_opt"), "cuda"], None, 90),
    ])
    probe.save()
    for driver in ("driver_opt", "driver_sys"):
        exe = WORK / driver / "aoti_driver"
        for name in ("cuda_sys", "cuda_opt"):
            folder = WORK / name
            probe.shell(f"{driver} runs {name}, explicit input",
                        f"cat {folder}/expected.json; echo; {exe} {pkg(name)} cuda:0 1 shared 1000 {folder}/x.bin", 60)
        probe.shell(f"{driver} runs cuda_sys, 4 threads per-thread",
                    f"{exe} {pkg('cuda_sys')} cuda:0 4 per_thread 1000", 60)
        probe.shell(f"{driver} runs cuda_sys, 4 threads shared", f"{exe} {pkg('cuda_sys')} cuda:0 4 shared 1000", 60)
        probe.shell(f"{driver} runs cpu_sys", f"cat {WORK}/cpu_sys/expected.json; echo; "
                                               f"{exe} {pkg('cpu_sys')} cpu 1 shared 1000 {WORK}/cpu_sys/x.bin", 60)
    probe.save()


def run_probe(args) -> None:
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    probe = Probe(outdir, args.budget)
    me = str(Path(__file__).resolve())
    py = sys.executable
    gather_facts(probe)
    probe.save()
    if args.plan == "compiler":
        plan_compiler(probe, args, me, py)
        summarize(probe)
        return

    (WORK / "segv_bt.c").write_text(SEGV_BT_C)
    probe.shell("build segv_bt.so", f"gcc -shared -fPIC -O1 -o {WORK}/segv_bt.so {WORK}/segv_bt.c")
    segv = {"LD_PRELOAD": str(WORK / "segv_bt.so")}

    def pkg(name: str) -> str:
        return str(WORK / name / f"{name}.pt2")

    def compile_step(name, device, opts=(), flags=(), env=None):
        argv = [py, me, "compile", device, pkg(name), *flags] + [a for o in opts for a in ("--opt", o)]
        # One compile thread each: seven compiles share the machine's cores.
        # cuda_default keeps torch's default, as the failing runs had it.
        env = {**({} if name == "cuda_default" else {"TORCHINDUCTOR_COMPILE_THREADS": "1"}), **(env or {})}
        return f"compile {name} {' '.join(flags)} {' '.join(opts)}", argv, env, 240

    # Compiles run side by side (16 cores); the first three also load and run
    # in the compiling process.
    steps = [
        compile_step("cuda_default", "cuda", flags=["--load"]),
        compile_step("cpu_default", "cpu", flags=["--load"]),
        compile_step("cuda_exporter", "cuda", flags=["--load", "--dynamic", "--fp16", "--rewrite"]),
        compile_step("cuda_debug", "cuda", ["aot_inductor.debug_compile=true"], env={"AOT_INDUCTOR_DEBUG_COMPILE": "1"}),
        compile_step("cuda_cpponly", "cuda", ["aot_inductor.package_cpp_only=true"]),
        compile_step("cuda_embed", "cuda", ["max_autotune=false", "aot_inductor.embed_kernel_binary=true"]),
        compile_step("cuda_mmap", "cuda", ["aot_inductor.force_mmap_weights=true"]),
    ]
    driver = None
    if args.driver_src:
        build = WORK / "driver_build"
        driver = build / "aoti_driver"
        csrc = Path(__file__).resolve().parents[1] / "csrc"
        steps.append(("build C++ driver (cmake, g++)",
                      ["bash", "-c", f"cmake -S {Path(args.driver_src).resolve()} -B {build} -DPYTHON={py} "
                                     f"-DINFERMETER_SRC={csrc} -DJSON_INCLUDE={args.json_include} && "
                                     f"cmake --build {build} -j 8"], None, 400))
    probe.parallel(steps)
    probe.save()
    for name in ("cuda_default", "cpu_default", "cuda_cpponly"):
        if Path(pkg(name)).exists():
            inspect_package(probe, Path(pkg(name)))

    load = [py, me, "load"]
    traced = [py, "-X", "faulthandler", me, "load"]
    cuda_pkg = pkg("cuda_default")
    fresh = [
        ("fresh load cuda_default", load + [cuda_pkg, "cuda"], None, 120),
        ("fresh load cuda_default, CUDA initialized first", load + [cuda_pkg, "cuda", "--init-cuda"], None, 120),
        ("fresh load cuda_default, faulthandler + native backtrace + TORCH_LOGS", traced + [cuda_pkg, "cuda"],
         {**segv, "TORCH_LOGS": "+inductor", "TORCH_SHOW_CPP_STACKTRACES": "1", "AOTI_RUNTIME_CHECK_INPUTS": "1"}, 120),
        ("stage: load_metadata_from_package only", traced + [cuda_pkg, "cuda", "--stage", "metadata"], segv, 120),
        ("stage: AOTIModelPackageLoader only", traced + [cuda_pkg, "cuda", "--stage", "loader"], segv, 120),
        ("stage: get_device_information only", traced + [cuda_pkg, "cuda", "--stage", "device_info"], segv, 120),
        ("fresh load cpu_default", traced + [pkg("cpu_default"), "cpu"], segv, 120),
        ("fresh load cuda_exporter (dynamic, fp16, rewritten)", traced + [pkg("cuda_exporter"), "cuda"], segv, 120),
        ("fresh load cuda_debug", traced + [pkg("cuda_debug"), "cuda"], segv, 120),
        ("fresh load cuda_cpponly (compiled at load)", traced + [pkg("cuda_cpponly"), "cuda"], segv, 200),
        ("fresh load cuda_embed", traced + [pkg("cuda_embed"), "cuda"], segv, 120),
        ("fresh load cuda_mmap", traced + [pkg("cuda_mmap"), "cuda"], segv, 120),
    ]
    results = probe.parallel(fresh)
    probe.save()

    if driver is not None and driver.exists():
        xbin = str(WORK / "cuda_default" / "x.bin")
        for name, argv in [
            ("C++ driver: cuda_default on cuda:0, 1 thread, explicit input", [cuda_pkg, "cuda:0", "1", "shared", "500", xbin]),
            ("C++ driver: cuda_default on cuda:0, 4 threads shared", [cuda_pkg, "cuda:0", "4", "shared", "500"]),
            ("C++ driver: cuda_default on cuda:0, 4 threads per-thread", [cuda_pkg, "cuda:0", "4", "per_thread", "500"]),
            ("C++ driver: cuda_exporter on cuda:0, 1 thread, stored spec", [pkg("cuda_exporter"), "cuda:0", "1", "shared", "500"]),
            ("C++ driver: cuda_debug on cuda:0", [pkg("cuda_debug"), "cuda:0", "1", "shared", "100"]),
            ("C++ driver: cpu_default on cpu, 1 thread", [pkg("cpu_default"), "cpu", "1", "shared", "500",
                                                       str(WORK / "cpu_default" / "x.bin")]),
            ("C++ driver: cuda package on cpu (expect invalid_argument)", [cuda_pkg, "cpu", "1", "shared", "10"]),
            ("C++ driver: cpu package on cuda:0 (expect invalid_argument)", [pkg("cpu_default"), "cuda:0", "1", "shared", "10"]),
        ]:
            probe.step(name, [str(driver)] + argv, timeout=90)
        probe.save()

    # cuda-gdb is the only debugger there; it names the native frame of a crash.
    crashed = [r for r in results if "SIG" in r["outcome"]]
    if crashed and shutil.which("cuda-gdb"):
        probe.step("cuda-gdb backtrace: " + crashed[0]["step"],
                   ["cuda-gdb", "-q", "-batch", "-ex", "set pagination off", "-ex", "set confirm off", "-ex", "run",
                    "-ex", "bt 40", "-ex", "info sharedlibrary", "--args"] + crashed[0]["cmd"].split(), timeout=240)
    probe.save()
    summarize(probe)


def summarize(probe: Probe) -> None:
    say("\n===== summary")
    for r in probe.results:
        say(f"{r['step']}: {r['outcome']} ({r['seconds']} s)")
        if not r["step"].startswith("facts"):
            say("   | " + "\n   | ".join(r["tail"].strip().splitlines()[-(2 if r["outcome"] == "ok" else 6):]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("outdir")
    p.add_argument("--driver-src")
    p.add_argument("--json-include")
    p.add_argument("--budget", type=float, default=420, help="seconds the whole probe may take")
    p.add_argument("--plan", choices=("full", "compiler"), default="full",
                   help="full: every way of loading (first run); compiler: $CXX against the system g++ (second run)")
    p = sub.add_parser("compile")
    p.add_argument("device")
    p.add_argument("out")
    p.add_argument("--opt", action="append", default=[], help="inductor option as key=JSON value")
    p.add_argument("--load", action="store_true", help="also load and run it in the compiling process")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch dimension, as infermeter exports")
    p.add_argument("--fp16", action="store_true", help="export under fp16 autocast, as infermeter exports fp16")
    p.add_argument("--rewrite", action="store_true", help="add infermeter's records through PT2ArchiveWriter")
    p = sub.add_parser("load")
    p.add_argument("package")
    p.add_argument("device")
    p.add_argument("--init-cuda", action="store_true")
    p.add_argument("--stage", choices=("full", "metadata", "loader", "device_info"), default="full")
    args = parser.parse_args()
    {"run": run_probe, "compile": compile_package, "load": load_package}[args.command](args)


if __name__ == "__main__":
    main()
