// The Python extension `infermeter._core`. The option table lives in C++ and
// Python reads it (option_table) and hands options over as plain values,
// normalised here once. A run's options are converted while the GIL is held,
// the engine runs with it released, and only a JSON string comes back, so no
// Python object is touched without the GIL (the Python runner takes it for
// each request it makes).
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "aoti_runner.h"
#include "arrival_schedule.h"
#include "dynamic_batching.h"
#include "infermeter/engine.h"
#include "infermeter/errors.h"
#include "infermeter/options.h"
#include "interval_log.h"
#include "output_paths.h"
#include "python_runner.h"
#include "recorder.h"
#include "reporters.h"
#include "result_builder.h"
#include "runner_registry.h"
#include "statistics.h"
#include "stop_rules.h"

namespace py = pybind11;
using namespace infermeter;
using nlohmann::json;

namespace {

// Raised into Python as KeyboardInterrupt carrying the partial result's JSON,
// so that Ctrl-C loses nothing already measured.
struct Interrupted {
  std::string result_json;
};

py::object from_json(const json& value) { return py::module_::import("json").attr("loads")(value.dump()); }

// Runs `body` (which measures) with the GIL released, seeing Ctrl-C: it
// reaches Python only as a pending signal, so the coordinator looks for it
// briefly under the GIL a few times a second.
template <typename Body>
std::string with_interrupts(Body&& body) {
  bool interrupted_by_signal = false;
  const AbortCheck should_abort = [&interrupted_by_signal] {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      // The KeyboardInterrupt is raised again below, with the partial result.
      PyErr_Clear();
      interrupted_by_signal = true;
    }
    return interrupted_by_signal;
  };
  std::string text;
  try {
    py::gil_scoped_release release;
    text = body(should_abort).dump();
  } catch (...) {
    // A failure after Ctrl-C was taken: the error goes up, and the Ctrl-C is
    // delivered again after it rather than lost.
    if (interrupted_by_signal) PyErr_SetInterrupt();
    throw;
  }
  if (interrupted_by_signal) throw Interrupted{text};
  return text;
}

std::string run(const std::string& model_path, const py::dict& options, std::vector<ExplicitInput> inputs,
                const py::dict& front_end) {
  // Built while the GIL is held: the engine runs on these copies.
  const RunConfig config = run_config_from(normalise_options(python_to_json(options)), model_path, std::move(inputs));
  const json front = python_to_json(front_end);
  return with_interrupts([&](const AbortCheck& should_abort) { return measure(config, should_abort, front); });
}

// A model whose requests are Python calls (python_runner.h), in the same
// worker pool, load and stop rule as every other runner.
std::string run_python_model(const std::string& model_path, const py::dict& options, const py::object& model,
                             const py::dict& front_end) {
  const RunConfig config = run_config_from(normalise_options(python_to_json(options)), model_path);
  PythonRunner runner(model);
  const auto load = load_kind(config.load).make(config);
  const auto stop = make_stop_rule(config);
  const json front = python_to_json(front_end);
  return with_interrupts([&](const AbortCheck& should_abort) {
    return measure(config, runner, *load, *stop, should_abort, front);
  });
}

// The result document for requests timed outside the engine: per worker,
// (issued, completed) steady-clock pairs in ns from when measuring began, in
// a closed loop that stopped at `options`' duration. For importing timings
// taken elsewhere, and for tests that need a document of chosen figures.
std::string result_from_timings(const py::dict& options, const py::dict& model,
                                const std::vector<std::vector<std::pair<int64_t, int64_t>>>& workers,
                                int64_t batch_size, const py::dict& environment) {
  const RunConfig config = run_config_from(normalise_options(python_to_json(options)), "(timings)");
  if (config.load != "closed" || !config.duration_s)
    throw std::invalid_argument("timings taken elsewhere are read as a closed loop stopped at a duration");
  const auto window_ns = static_cast<int64_t>(config.window_s * 1e9);
  const size_t windows = window_count(config);
  Recorder merged(window_ns, windows);
  for (const auto& requests : workers) {
    Recorder recorder(window_ns, windows);
    for (const auto& [issued, completed] : requests) {
      RequestTiming t;
      t.scheduled_ns = t.issued_ns = issued;
      t.completed_ns = completed;
      recorder.record(t, 0, false);
    }
    merged.merge(recorder);
  }
  const ClosedLoop load;
  RunRecord run;
  run.merged = &merged;
  run.load = &load;
  run.batch_size = batch_size;
  run.stopped_ns = static_cast<int64_t>(*config.duration_s * 1e9);
  run.stop_reason = "duration reached";
  run.stop_rule = DurationRule(*config.duration_s).describe();
  run.intra_op_threads = intra_op_threads_for(config);
  return build_result(config, python_to_json(model), run, nullptr, python_to_json(environment)).dump();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "infermeter's native measurement engine";
  const auto engine_error = py::register_exception<EngineError>(m, "EngineError", PyExc_RuntimeError);
  py::register_exception<OutOfMemory>(m, "OutOfMemoryError", engine_error.ptr());
  py::register_exception<WriteFailure>(m, "WriteFailure", PyExc_OSError);
  static py::exception<Interrupted> interrupted_type(m, "_Interrupted", PyExc_KeyboardInterrupt);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Interrupted& e) {
      py::set_error(interrupted_type, py::str(e.result_json));
    }
  });

  py::class_<ExplicitInput>(m, "ExplicitInput")
      .def(py::init([](std::string name, std::vector<int64_t> shape, std::string dtype, py::bytes data) {
             return ExplicitInput{std::move(name), std::move(shape), std::move(dtype), std::string(data)};
           }),
           py::arg("name"), py::arg("shape"), py::arg("dtype"), py::arg("data"));

  m.attr("RESULT_SCHEMA") = kResultSchema;
  m.attr("BACK_TO_BACK") = kBackToBack;
  py::list percentile_keys;
  for (const auto& [key, percentile] : kPercentiles) percentile_keys.append(key);
  m.attr("PERCENTILE_KEYS") = py::tuple(percentile_keys);

  m.def("option_table", [] { return from_json(describe_option_table()); },
        "Every run option: name, flag, type, group, help, unit, default, choices, bounds and the front ends "
        "that leave it out, with why (csrc/options.cpp).");
  m.def(
      "parse_option_text", [](const std::string& name, const std::string& text) {
        return from_json(parse_option_text(name, text));
      },
      py::arg("name"), py::arg("text"), "A command-line value as the option's typed value; ValueError otherwise.");
  m.def(
      "check_option_value",
      [](const std::string& name, const py::handle& value) {
        py::dict named;  // so that a value python_to_json refuses is named by the option
        named[py::str(name)] = value;
        return from_json(check_option_value(name, python_to_json(named).at(name)));
      },
      py::arg("name"), py::arg("value"),
      "One option's value checked against its type, choices and bounds, in canonical form; ValueError otherwise.");
  m.def(
      "normalise_options", [](const py::dict& given) { return from_json(normalise_options(python_to_json(given))); },
      py::arg("given"),
      "Every option: the given ones checked, the others defaulted (the duration from the stop asked for), "
      "validated as a whole; ValueError naming the option otherwise.");
  m.def("check_output_paths", &check_output_paths, py::arg("outputs"), py::arg("inputs"),
        "ValueError naming the option when an output (option, path) cannot take the file it would write, is an "
        "input, or shares its path with another output.");
  m.def("runner_names", &runner_names, "The runners this build knows.");
  m.def("untrusted_package_reason", &untrusted_package_reason, py::arg("path"),
        "Why the AOTInductor package at `path` would be refused without trust; empty when it would not.");
  m.def(
      "arrival_offsets",
      [](const std::string& process, double rate_per_s, int64_t count, uint64_t seed) {
        return arrival_offsets(parse_arrival_process(process), rate_per_s, count, seed);
      },
      py::arg("process"), py::arg("rate_per_s"), py::arg("count"), py::arg("seed") = 0,
      "The first `count` arrival offsets (ns from the start) of an open loop's schedule: the very schedule a run "
      "with the same arrival process, rate and seed uses.");
  m.def(
      "capture_sizes",
      [](const py::dict& given) {
        return capture_sizes(run_config_from(normalise_options(python_to_json(given)), "(options)"));
      },
      py::arg("given"),
      "The batch sizes a graph runner captures for dynamic batching with these options (capture_batches, or "
      "its default from max_batch); ValueError as normalise_options.");
  m.def(
      "console_summary", [](const std::string& result_json) { return console_summary(json::parse(result_json)); },
      py::arg("result_json"), "The console summary of a result document (what infermeter-bench prints).");
  m.def(
      "combine_repeats",
      [](const std::vector<std::string>& runs_json, const std::string& isolation) {
        std::vector<json> runs;
        for (const auto& text : runs_json) runs.push_back(json::parse(text));
        return combine_repeats(runs, isolation).dump();
      },
      py::arg("runs_json"), py::arg("isolation"),
      "K result documents of one configuration as one: the median-throughput run, with every run's figures "
      "and the mean, stddev, CV and 95% t interval of throughput and of the latency percentiles under "
      "\"repeats\"; its stated intervals become those across-run ones. isolation: what separated the runs "
      "(\"fresh processes, back to back\", \"3 separate sweeps\").");
  m.def("min_samples_for_percentile", &min_samples_for_percentile, py::arg("q"), py::arg("confidence") = 0.95,
        "Fewest samples for which the largest bounds the q-quantile from above with this confidence (MLPerf "
        "LoadGen's early-stopping floor): below it a percentile is not stated.");
  m.def(
      "percentile_rank_interval",
      [](int64_t n, double q, double confidence) -> std::optional<std::pair<int64_t, int64_t>> {
        const auto ranks = percentile_rank_interval(n, q, confidence);
        if (!ranks) return std::nullopt;
        return std::pair{ranks->lo, ranks->hi};
      },
      py::arg("n"), py::arg("q"), py::arg("confidence") = 0.95,
      "1-based ranks (lo, hi) of the sorted samples that bound the q-quantile of n with this confidence, "
      "distribution-free (the result's percentile intervals); None when n is too small for one of them.");
  m.def("format_duration_ns", &format_duration_ns, py::arg("ns"),
        "A duration in the unit (ns, µs, ms, s) that shows three significant digits.");
  m.def(
      "write_interval_log", [](const std::string& path, const std::string& result_json) {
        write_interval_log(path, json::parse(result_json));
      },
      py::arg("path"), py::arg("result_json"),
      "The result's host latency as an HdrHistogram interval log (what infermeter-bench --hlog writes).");
  m.def("write_file_atomically", &write_file_atomically, py::arg("path"), py::arg("text"),
        "Writes the whole text or nothing: a scratch file beside `path`, renamed over it.");
  m.def("run", &run, py::arg("model_path"), py::arg("options"), py::arg("inputs"), py::arg("front_end"),
        "Measure a model file; returns the result document as JSON text. Ctrl-C raises KeyboardInterrupt whose "
        "argument is the partial result's JSON.");
  m.def("run_python_model", &run_python_model, py::arg("model_path"), py::arg("options"), py::arg("model"),
        py::arg("front_end"),
        "Measure a model whose requests are Python calls (python_runner.h) in the engine's worker pool.");
  m.def("result_from_timings", &result_from_timings, py::arg("options"), py::arg("model"), py::arg("workers"),
        py::arg("batch_size"), py::arg("environment"),
        "The result document for requests timed elsewhere: per worker, (issued, completed) ns pairs.");
}
