"""The `infermeter` command."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from infermeter import _native
from infermeter.backends import add_arguments, from_arguments
from infermeter.dashboards import FORMATS as DASHBOARD_FORMATS
from infermeter.options import (BY_NAME, CLI, SEARCH_OPTIONS, STEP_OPTIONS, add_arguments as add_option_arguments,
                                given_options)
from infermeter.precisions import PRECISIONS
from infermeter.warning_lines import warnings_as_lines



def _flags(names) -> str:
    return ", ".join(BY_NAME[name].flag for name in names)


def _find_rate(args, given: dict, search: dict) -> int:
    import json

    from infermeter.find_rate import SearchInterrupted, find_rate, find_rate_repeated
    from infermeter.sla import parse_sla

    searches = given.pop("repeat", 1)
    refused = [name for name in STEP_OPTIONS if name in given]
    if refused:
        raise ValueError(f"--find-rate chooses each step's rate and duration and measures it once: leave out "
                         f"{_flags(refused)} (--repeat K makes the whole search K times)")
    if search.get("sla") is None:
        raise ValueError("--find-rate needs --sla, e.g. --sla 'p99<15ms'")
    sla = parse_sla(search["sla"])
    json_path = given.pop("json", None)
    _check_outputs(args, {"json": json_path}, given)
    print(f"searching the highest rate meeting {sla} ...", flush=True)
    how = dict(sla=sla, precision=search.get("rate_precision", BY_NAME["rate_precision"].default),
               backend=from_arguments(args), **({"calibrate": False} | given),
               on_step=lambda s: print(f"  offered {s.offered_rate_per_s:.1f}/s: achieved "
                                       f"{s.achieved_rate_per_s:.1f}/s, {s.latency_label}, "
                                       f"{'meets' if s.meets else 'fails'}", flush=True))
    try:
        if searches > 1:
            search_result = find_rate_repeated(args.model, searches=searches, **how,
                                               on_search=lambda i: print(f"search {i + 1} of {searches}", flush=True))
        else:
            search_result = find_rate(args.model, **how)
    except SearchInterrupted as stopped:  # keep the finished steps, as `run` keeps a partial result
        search_result = stopped.search
    print(search_result)
    if searches == 1 and search_result.best:
        print("one search: how far its answer moves from search to search is not measured (--repeat 3 makes it "
              "three times)")
    if json_path is not None:
        best = search_result.best
        doc = {"rate_search": search_result.to_dict(), "best_result": best.result.to_dict() if best else None}
        _native.write_file_atomically(json_path, json.dumps(doc, indent=2) + "\n")
        print(f"search written to {json_path}")
    return 130 if search_result.interrupted else 0


def _check_outputs(args, outputs: dict, given: dict) -> None:
    """Every file the run will write (`outputs`, and the trace the engine
    writes) is checked before anything is measured: writable, none an input
    of the run, no two the same."""
    named = [(name, path) for name, path in outputs.items() if path is not None]
    if given.get("trace") is not None:
        named.append(("trace", given["trace"]))
    _native.check_output_paths(named, [args.model, *given.get("load_library", [])])


def _run(args) -> int:
    from infermeter.bench import benchmark
    from infermeter.result import Interrupted

    given = given_options(args, CLI)
    search = {name: given.pop(name) for name in SEARCH_OPTIONS if name in given}
    if args.format != "json":
        if search.get("find_rate"):
            raise ValueError(f"--format {args.format}: a rate search writes its own document, in json only")
        if not given.get("json"):
            raise ValueError(f"--format {args.format} says what --json writes: give --json PATH")
    if search.pop("find_rate", False):
        return _find_rate(args, given, search)
    if search:
        raise ValueError(f"{_flags(search)}: only with --find-rate, which searches the highest rate meeting the SLA")
    outputs = {name: given.pop(name) for name in ("json", "hlog") if given.get(name) is not None}
    _check_outputs(args, outputs, given)
    if "hlog" in outputs and given.get("repeat", 1) > 1:
        raise ValueError("hlog writes one run's histogram: leave it out with repeat")
    try:
        result = benchmark(args.model, backend=from_arguments(args), **given)
        interrupted = False
    except Interrupted as stopped:  # keep what was measured, as infermeter-bench does
        # With --repeat, the result is the median run, which need not be the one Ctrl-C cut short.
        result, interrupted = stopped.result, True
    print(result.summary())
    if "json" in outputs:
        if args.format == "json":
            result.save(outputs["json"])
        else:
            from infermeter.dashboards import render, result_name

            _native.write_file_atomically(outputs["json"], render(args.format, [(result_name(result), result)]))
        print(f"result written to {outputs['json']}" + ("" if args.format == "json" else f" ({args.format})"))
    if "hlog" in outputs and result.outcome == "ok":
        result.save_interval_log(outputs["hlog"])
        print(f"host latency interval log written to {outputs['hlog']}")
    return 130 if interrupted else 0


def _sweep(args) -> int:
    from infermeter.sweep import load_config, run_sweep

    from infermeter.sweep.shard import parse_shard

    config = load_config(args.config)
    shard_spec = parse_shard(args.shard) if args.shard else None
    out = args.output or f"results/{config.name}" + (f"/shard-{shard_spec[0]}-of-{shard_spec[1]}" if shard_spec else "")
    outcome = run_sweep(config, out, instance=args.instance, resume=args.resume, progress=not args.quiet,
                        shard_spec=shard_spec, executor=args.executor, ray_address=args.address,
                        cpus_per_point=args.cpus_per_point, accept_changed_config=args.accept_changed_config)
    print(outcome)
    return 130 if outcome.interrupted else 0


def _merge(args) -> int:
    from infermeter.sweep.merge import merge

    outcome = merge(args.inputs, args.output, skip_bad=args.skip_bad, rounds=args.rounds)
    print(outcome)
    return 1 if outcome.missing else 0


def _dashboard(args) -> int:
    from infermeter.dashboards import named_results, render
    from infermeter.sweep.store import results_path

    # Checked before anything is read, as `run` checks its outputs; an input is never overwritten.
    _native.check_output_paths([("output", args.output)], [str(results_path(given)) for given in args.results])
    named = named_results(args.results)
    _native.write_file_atomically(args.output, render(args.format, named))
    print(f"{len(named)} result(s) written to {args.output} ({args.format})")
    return 0


def _batch_spec(args) -> int:
    import json
    from pathlib import Path

    from infermeter.sweep import load_config
    from infermeter.sweep.batch_spec import batch_spec

    config = load_config(args.config)
    spec = batch_spec(config, args.config, args.shards, args.image, args.job_queue, results_dir=args.results_dir,
                      vcpus=args.vcpus, memory_mib=args.memory, instance=args.instance)
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    for name, doc in (("job-definition.json", spec["registerJobDefinition"]), ("submit-job.json", spec["submitJob"])):
        _native.write_file_atomically(str(folder / name), json.dumps(doc, indent=2) + "\n")
    print(f"wrote {folder / 'job-definition.json'} and {folder / 'submit-job.json'}; then:\n"
          f"  aws batch register-job-definition --cli-input-json file://{folder / 'job-definition.json'}\n"
          f"  aws batch submit-job --cli-input-json file://{folder / 'submit-job.json'}\n"
          f"and, when the jobs are done: infermeter merge {args.results_dir}/{config.name}/shard-* -o merged/")
    return 0


def _compare(args) -> int:
    from infermeter.compare import NOISE, ONE_RUN_EACH, WITHIN_NOISE, compare
    from infermeter.frame import load_results
    from infermeter.report.table import formatted

    sides = [load_results(side, prices=args.prices, skip_bad=args.skip_bad) for side in (args.a, args.b)]
    table = compare(*sides)
    if table.empty:
        raise ValueError(f"{args.a} and {args.b} have no measured point in common")
    print(formatted(table).to_string(index=False))
    if NOISE in table:
        verdicts = table[NOISE].astype(str)
        same = int(verdicts.str.startswith(WITHIN_NOISE).sum())
        print(f"\n{same} of {len(table)} points within noise: their 95% throughput intervals overlap, so these "
              "measurements do not show either side faster")
        one_run = int(verdicts.str.endswith(ONE_RUN_EACH).sum())
        if one_run:
            print(f"{one_run} verdict(s) rest on within-run intervals, which leave out how far a figure moves from "
                  "one process to the next (docs/intervals.md): measure both sides with --repeat 3 (a sweep: "
                  "repeat: 3, which runs as rounds) to judge across runs")
    return 0


def _recommend(args) -> int:
    from infermeter.analysis import DEFAULT_HEADROOM, recommend
    from infermeter.frame import load_results

    frame = load_results(*args.results, prices=args.prices, skip_bad=args.skip_bad)
    sla = args.sla
    if sla is None:
        configured = set(frame["sla"].dropna())
        if len(configured) != 1:
            raise ValueError("give --sla (e.g. p90<15ms): the sweeps name "
                             + (f"different SLAs: {', '.join(sorted(configured))}" if configured else "none"))
        sla = configured.pop()
    print(recommend(frame, sla, min_throughput=args.min_throughput, target_load=args.target_load,
                    headroom=DEFAULT_HEADROOM if args.headroom is None else args.headroom))
    return 0


def _report(args) -> int:
    from infermeter.frame import load_results
    from infermeter.report import write_report

    frame = load_results(*args.results, prices=args.prices, skip_bad=args.skip_bad)
    report = write_report(frame, args.output, points=args.points)
    print(report.terminal)
    print(f"\nreport: {report.html} (also summary.md, summary.csv and {len(report.figures)} figures in {report.folder})")
    return 0


def _export(args) -> int:
    from infermeter.export import export, file_identity, written_since

    options = {k: v for k, v in (("seq_len", args.seq_len), ("resolution", args.resolution),
                                 ("weights", args.weights)) if v is not None}
    print(f"exporting {args.model} ({args.precision}, batch {args.batch_size}) ...", file=sys.stderr, flush=True)
    before = file_identity(args.output)
    try:
        report = export(args.model, args.output, precision=args.precision, batch_size=args.batch_size,
                        method=args.method, freeze=not args.no_freeze, format=args.format, device=args.device,
                        backend=from_arguments(args), check_input_dependence=not args.allow_constant_output,
                        static_batch=args.static_batch, max_autotune=args.max_autotune, cache=not args.no_cache,
                        **options)
        print(report)
    except KeyboardInterrupt:
        # Ctrl-C after the file was renamed into place (while scratch folders are removed) stopped nothing it needs.
        if not written_since(args.output, before):
            raise
        print(f"infermeter: interrupted after {args.output} was written whole: the export is complete",
              file=sys.stderr)
    return 0


def _models(args) -> int:
    from infermeter.zoo import REGISTRY
    from infermeter.zoo.registry import parameter_count

    print(f"{'name':<18} {'parameters':>12}  {'default input':<34} description")
    for name, entry in REGISTRY.items():
        try:
            count = f"{parameter_count(entry) / 1e6:.1f}M"
        except ValueError:  # an optional extra that is not installed
            count = f"[{entry.extra}]"
        print(f"{name:<18} {count:>12}  {entry.default_input:<34} {entry.description}")
    print("\nAlso: tv:<any torchvision classifier>, hf:<Hugging Face id or folder, available locally>. "
          "[extra]: pip install 'infermeter[extra]' first.")
    return 0


def _predict(args) -> int:
    import itertools
    import json

    from infermeter.predict import (highest_rate, meets_sla, parse_number, parse_numbers, service_times_from_results,
                                    simulate, table)
    from infermeter.sla import parse_sla
    from infermeter.sweep.store import results_path

    if args.rate is None and args.sla is None:
        raise ValueError("give --rate, or --sla alone to search the highest rate meeting it")
    sla = parse_sla(args.sla) if args.sla else None
    if args.json:
        _native.check_output_paths([("json", args.json)], [str(results_path(r)) for r in args.results])
    service = service_times_from_results(args.results)
    print(f"service times: {service}")
    common = {"preferred_batches": parse_numbers("--preferred-batches", args.preferred_batches, int)
              if args.preferred_batches else (),
              "capture_batches": parse_numbers("--capture-batches", args.capture_batches, int)
              if args.capture_batches else None,
              "batch_size": parse_number("--batch-size", args.batch_size, int),
              "arrival": args.arrival, "seed": parse_number("--seed", args.seed, int),
              "requests": parse_number("--requests", args.requests, int) if args.requests else None,
              "allow_other_instances": args.allow_other_instances}
    batchers = list(itertools.product(parse_numbers("--max-batch", args.max_batch, int),
                                      parse_numbers("--max-queue-delay", args.max_queue_delay, float),
                                      parse_numbers("--threads", args.threads, int) if args.threads
                                      else [service.instances]))
    rows, docs, unmet = [], [], []
    if args.rate is None:
        print(f"highest rate meeting {sla} (and sustained), by configuration:")
        for max_batch, delay, instances in batchers:
            rate, p = highest_rate(service, sla=sla, max_batch=max_batch, max_queue_delay=delay,
                                   instances=instances, **common)
            rows.append((p, rate > 0))
            docs.append(p.to_dict() | {"sla": str(sla), "highest_rate_per_s": rate if rate > 0 else None})
            if rate == 0:
                unmet.append(f"no rate meets {sla} with max_batch {max_batch}, max_queue_delay {delay:g} s, "
                             f"{instances} instance(s), down to {p.rate_per_s:.1f}/s")
    else:
        for rate, (max_batch, delay, instances) in itertools.product(parse_numbers("--rate", args.rate, float),
                                                                      batchers):
            p = simulate(service, rate=rate, max_batch=max_batch, max_queue_delay=delay, instances=instances,
                         **common)
            rows.append((p, meets_sla(sla, p) if sla else None))
            docs.append(p.to_dict() | ({"sla": str(sla), "meets_sla": rows[-1][1]} if sla else {}))
    print("\n".join([table(rows), *unmet, *(f"note: {note}" for note in dict.fromkeys(
        note for p, _ in rows for note in p.notes))]))
    if args.json:
        _native.write_file_atomically(args.json, json.dumps(docs, indent=2) + "\n")
        print(f"predictions written to {args.json}")
    return 0


def _run_parser(sub) -> None:
    run = sub.add_parser("run", help="measure a model exported by infermeter (TorchScript or AOTInductor)",
                         description="Measures a model with native client threads. Every option is the engine's "
                         "own (infermeter-bench takes the same), with the same defaults and errors.")
    run.add_argument("model", help="a model exported by infermeter (TorchScript .pt or AOTInductor .pt2)")
    add_option_arguments(run, CLI)
    add_arguments(run)
    run.add_argument("--format", choices=["json", *DASHBOARD_FORMATS], default="json",
                     help="what --json writes: json (the result document, default), or the result in a CI "
                     "dashboard's format (see `infermeter dashboard`)")
    run.set_defaults(func=_run)


def _dashboard_parser(sub) -> None:
    dash = sub.add_parser("dashboard", help="convert results into a CI benchmark dashboard's format",
                          description="Writes results in the format a CI benchmark dashboard reads: google-benchmark "
                          "(Google Benchmark's JSON: github-action-benchmark's googlecpp tool, Bencher's cpp_google "
                          "adapter), github-action-benchmark-smaller / -bigger (its customSmallerIsBetter and "
                          "customBiggerIsBetter lists: latency, memory and energy; throughput), or bencher "
                          "(Bencher Metric Format). A run is named by its configuration, a sweep's point by its key.")
    dash.add_argument("results", nargs="+", help="result .json files, sweep folders or results.jsonl files "
                      "(their ok points)")
    dash.add_argument("--format", required=True, choices=list(DASHBOARD_FORMATS))
    dash.add_argument("-o", "--output", required=True, help="the file to write")
    dash.set_defaults(func=_dashboard)


def _export_parser(sub) -> None:
    exp = sub.add_parser("export", help="export a zoo model to TorchScript or an AOTInductor package, in a chosen "
                         "precision")
    exp.add_argument("model", help="a name from `infermeter models`, tv:<name> or hf:<id>")
    exp.add_argument("-o", "--output", required=True,
                     help="the file to write: TorchScript (.pt), or with --format aoti an AOTInductor package (.pt2)")
    exp.add_argument("--precision", choices=PRECISIONS, default="fp32",
                     help="fp32 (IEEE), tf32 (fp32 weights, TF32 tensor cores; GPUs of compute capability 8.0+), "
                     "fp16, bf16, or mixed (autocast); default fp32")
    exp.add_argument("--batch-size", type=int, default=1, help="batch to trace at (default 1)")
    exp.add_argument("--seq-len", type=int, help="sequence length, for language models")
    exp.add_argument("--resolution", type=int, help="square image size, for vision models")
    exp.add_argument("--weights", help="local weights file, folder or id; 'random' to ignore cached weights")
    exp.add_argument("--method", choices=["trace", "script"], default="trace")
    exp.add_argument("--format", choices=["torchscript", "aoti"], default="torchscript",
                     help="torchscript (.pt, runners torchscript and cuda-graph) or aoti (an AOTInductor .pt2 "
                     "package compiled for --device, runners aoti and aoti-graph); default torchscript")
    exp.add_argument("--no-freeze", action="store_true",
                     help="keep the graph as traced; by default TorchScript is frozen (torch.jit.freeze) and "
                     "optimized for inference, and AOTInductor compiles with freezing, as a deployment ships them")
    exp.add_argument("--static-batch", action="store_true",
                     help="aoti: compile for --batch-size alone (static shapes: Inductor picks layouts and kernels "
                     "for that batch) instead of a dynamic batch dimension")
    exp.add_argument("--max-autotune", action="store_true",
                     help="aoti: Inductor's max-autotune (benchmarks kernel choices while compiling; much longer)")
    exp.add_argument("--no-cache", action="store_true",
                     help="aoti: compile even when the compile cache ($INFERMETER_CACHE, else ~/.cache/infermeter) "
                     "holds this package")
    exp.add_argument("--allow-constant-output", action="store_true",
                     help="export even when an output hardly depends on the input (the numeric check then "
                     "proves little)")
    exp.add_argument("--device", default="cpu", help="device to export and check on (default cpu)")
    add_arguments(exp)
    exp.set_defaults(func=_export)


def _sweep_parser(sub) -> None:
    sweep = sub.add_parser("sweep", help="run a grid of points from a sweep config")
    sweep.add_argument("config", help="a sweep config file, or the name of a shipped one (e.g. cpu_quick)")
    sweep.add_argument("--instance", help="the instance this runs on, for pricing (overrides the config's)")
    sweep.add_argument("-o", "--output", help="results folder (default results/<sweep name>)")
    sweep.add_argument("--resume", action="store_true", help="continue a sweep: skip the points already done")
    sweep.add_argument("--accept-changed-config", action="store_true",
                       help="with --resume: continue even though the config changes what the points already "
                       "measured measure (refused by default, naming the keys; sweep.json keeps the earlier config)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--shard", metavar="I/N", help="run only shard I of N (0 <= I < N), for job arrays")
    sweep.add_argument("--executor", choices=["local", "ray"], default="local",
                       help="local: points one after another here; ray: one Ray task per point")
    sweep.add_argument("--address", help="Ray cluster address (default: start Ray on this machine)")
    sweep.add_argument("--cpus-per-point", type=int,
                       help="Ray: CPUs each point holds (default: its client threads on CPU, 1 beside a GPU)")
    sweep.set_defaults(func=_sweep)


def _scale_out_parsers(sub) -> None:
    mrg = sub.add_parser("merge", help="combine the results of a sweep's shards into one results file")
    mrg.add_argument("inputs", nargs="+", help="results folders or files of one sweep")
    mrg.add_argument("-o", "--output", required=True,
                     help="results folder to write (its results.jsonl), or a .jsonl file")
    mrg.add_argument("--skip-bad", action="store_true",
                     help="leave out an input or record that is not a valid sweep record, and say how many and "
                     "where (default: stop at the first, naming its file and line; nothing written)")
    mrg.add_argument("--rounds", action="store_true",
                     help="the inputs are the same sweep run at different times: each point's results become one "
                     "repeated result whose intervals are across those runs, drift between them included")
    mrg.set_defaults(func=_merge)

    bsp = sub.add_parser("batch-spec", help="AWS Batch job definition and array job running a sweep's shards")
    bsp.add_argument("config", help="sweep config, as the container will see it (path or shipped name)")
    bsp.add_argument("--shards", type=int, required=True, help="number of array children")
    bsp.add_argument("--image", required=True, help="container image with infermeter installed")
    bsp.add_argument("--job-queue", required=True, help="Batch job queue")
    bsp.add_argument("--results-dir", default="/results",
                     help="where shards write in the container: mount shared storage (EFS, FSx) there")
    bsp.add_argument("--vcpus", type=int, default=4)
    bsp.add_argument("--memory", type=int, default=16384, help="MiB per container")
    bsp.add_argument("--instance", help="instance type the queue runs on, for pricing")
    bsp.add_argument("-o", "--output", default=".", help="folder for the two JSON files")
    bsp.set_defaults(func=_batch_spec)


def _analysis_parsers(sub) -> None:
    prices = {"action": "append", "default": [], "metavar": "FILE",
              "help": "price file overriding or adding to the shipped catalog (repeatable)"}
    skip_bad = {"action": "store_true",
                "help": "leave out a results file or record that is not a valid sweep result, and say how many and "
                "where (default: stop at the first, naming its file and line)"}
    cmp_ = sub.add_parser("compare", help="two sets of results point by point, with the cost ratio B/A")
    cmp_.add_argument("a", help="results file or sweep folder A (the baseline)")
    cmp_.add_argument("b", help="results file or sweep folder B")
    cmp_.add_argument("--prices", **prices)
    cmp_.add_argument("--skip-bad", **skip_bad)
    cmp_.set_defaults(func=_compare)

    rec = sub.add_parser("recommend", help="the cheapest measured configuration that meets a latency SLA")
    rec.add_argument("results", nargs="+", help="results files or sweep folders")
    rec.add_argument("--sla", help="e.g. p90<15ms, p99<=200us (default: the sweep config's `sla`)")
    rec.add_argument("--min-throughput", type=float, help="inferences/s one server must reach")
    rec.add_argument("--target-load", type=float,
                     help="inferences/s to serve: how many servers, at what cost, each at its highest measured "
                     "open-loop rate meeting the SLA (find_rate, or rates points), else its closed-loop peak")
    rec.add_argument("--headroom", type=float, metavar="FRACTION",
                     help="share of memory a configuration's peak must leave free: a device peak above (1 - headroom) "
                     "of the accelerator memory it held, or a host peak RSS above that share of its host memory, is "
                     "left out (default 0.1: at most 90%%)")
    rec.add_argument("--prices", **prices)
    rec.add_argument("--skip-bad", **skip_bad)
    rec.set_defaults(func=_recommend)

    rep = sub.add_parser("report", help="summary table, figures and an HTML page from results")
    rep.add_argument("results", nargs="+", help="results files or sweep folders; the first is the cost baseline")
    rep.add_argument("-o", "--output", required=True, help="folder to write the report into")
    rep.add_argument("--points", nargs="*", help="point keys whose latency distribution and timeline to draw "
                     "(default: each series' knee)")
    rep.add_argument("--prices", **prices)
    rep.add_argument("--skip-bad", **skip_bad)
    rep.set_defaults(func=_report)


def _predict_parser(sub) -> None:
    pre = sub.add_parser("predict", help="predict a dynamic batcher's latency and batches from closed-loop results, "
                         "without hardware",
                         description="Simulates the dynamic-batching load (Triton's batcher rules) on service times "
                         "measured in closed-loop runs at several batch sizes, for every combination of the values "
                         "given: one row each, or with --sla and no --rate the highest rate meeting it.")
    pre.add_argument("results", nargs="+", help="closed-loop results of one model, runner, device and thread count: "
                     "result .json files, sweep folders or results.jsonl files")
    pre.add_argument("--rate", metavar="R[,R2...]", help="arrival rates, requests/s")
    pre.add_argument("--max-batch", default="8", metavar="N[,N2...]", help="most items a batch holds (default 8)")
    pre.add_argument("--max-queue-delay", default="0", metavar="S[,S2...]",
                     help="how long the oldest request may wait for its batch to fill, s (default 0)")
    pre.add_argument("--threads", metavar="N[,N2...]", help="model instances (default: the threads measured)")
    pre.add_argument("--allow-other-instances", action="store_true",
                     help="simulate other instance counts than measured (contention then differs)")
    pre.add_argument("--preferred-batches", metavar="SIZES", help="batch sizes that go at once when queued, e.g. 4,8")
    pre.add_argument("--capture-batches", metavar="SIZES",
                     help="sizes a graph runner captured, e.g. 1,2,4,8: a batch is padded to the next one "
                     "(default, for results measured with cuda-graph or aoti-graph: the engine's, powers of two "
                     "below max_batch, and max_batch)")
    pre.add_argument("--batch-size", default="1", metavar="N", help="items per request (default 1)")
    pre.add_argument("--arrival", choices=["poisson", "constant"], default="poisson")
    pre.add_argument("--seed", default="0", metavar="N", help="seed of the Poisson arrivals and service draws")
    pre.add_argument("--requests", metavar="N",
                     help="arrivals simulated (default 60 s of them, at least 20000, at most 200000)")
    pre.add_argument("--sla", help="e.g. p95<10ms: with --rate, whether each row meets it; alone, the highest rate")
    pre.add_argument("--json", metavar="FILE", help="write the predictions here")
    pre.set_defaults(func=_predict)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infermeter", description="Measure PyTorch inference precisely.")
    sub = p.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _export_parser(sub)
    models = sub.add_parser("models", help="list the named models")
    models.set_defaults(func=_models)
    _sweep_parser(sub)
    _scale_out_parsers(sub)
    _analysis_parsers(sub)
    _predict_parser(sub)
    _dashboard_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from infermeter.aoti_export import CompileError

    args = parser().parse_args(argv)
    previous = _stop_on_sigterm()
    try:
        with warnings_as_lines():
            return args.func(args)
    except (ValueError, TypeError, OSError, _native.EngineError, CompileError) as e:
        # Bad input is 2; a model, torch or file-system failure (a full disk: the results file says which) is 1.
        print(f"infermeter: {e}", file=sys.stderr)
        return 2 if isinstance(e, (ValueError, TypeError)) else 1
    except KeyboardInterrupt:
        print("infermeter: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm():
    """SIGTERM, a scheduler's stop (Kubernetes, AWS Batch, systemd), stops a
    command as Ctrl-C does, as it stops infermeter-bench: what was measured is
    written, a sweep can resume, an export removes its scratch file. Its
    default would kill the process and lose them. A handler someone else set
    is kept. Returns the handler to put back, or None."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
