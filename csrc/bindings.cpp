// The Python extension `infermeter._core`. RunConfig is bound as a class, so
// its fields, defaults and validation live once, in C++. The run's config is
// copied while the GIL is held, the engine runs on the copy with it released
// (so no Python thread can change it underneath), and only a JSON string
// comes back, so no Python object is touched without the GIL.
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "arrival_schedule.h"
#include "infermeter/engine.h"
#include "infermeter/errors.h"
#include "load_generator.h"
#include "repeats.h"
#include "reporters.h"
#include "result_builder.h"
#include "runner_registry.h"
#include "statistics.h"
#include "stop_rule.h"

namespace py = pybind11;
using namespace infermeter;

namespace {

// Raised into Python as KeyboardInterrupt carrying the partial result's JSON,
// so that Ctrl-C loses nothing already measured.
struct Interrupted {
  std::string result_json;
};

std::string run(const RunConfig& shared_config, bool calibrate) {
  const RunConfig config = shared_config;
  bool interrupted_by_signal = false;
  // Ctrl-C reaches Python only as a pending signal: look for it briefly under
  // the GIL so a long run stops promptly.
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
    text = measure(config, should_abort, calibrate).result.dump();
  } catch (...) {
    // A failure after Ctrl-C was taken: the error goes up, and the Ctrl-C is
    // delivered again after it rather than lost.
    if (interrupted_by_signal) PyErr_SetInterrupt();
    throw;
  }
  if (interrupted_by_signal) throw Interrupted{text};
  return text;
}

// The result document for a run measured outside the engine (the Python
// loop of the Elastic Inference backend): per worker, (issued, completed)
// steady-clock pairs in ns, relative to when measuring began.
std::string build_python_loop_result(const RunConfig& config, const std::string& model_json,
                                     const std::vector<std::vector<std::pair<int64_t, int64_t>>>& workers,
                                     int64_t batch_size, int64_t warmup_requests, bool interrupted,
                                     const std::string& stop_reason, const std::string& environment_json) {
  validate(config);
  if (!config.duration_s || config.ci || config.requests || config.rate_per_s)
    throw std::invalid_argument("the Python loop measures a closed loop for a duration: leave out ci, requests and "
                                "rate");
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
  RunRecord run;
  run.merged = &merged;
  run.batch_size = batch_size;
  run.warmup_requests = warmup_requests;
  run.interrupted = interrupted;
  run.stop_reason = stop_reason;
  run.stop_rule = DurationRule(*config.duration_s).describe();
  run.load = ClosedLoop().describe(0);
  run.intra_op_threads = intra_op_threads_for(config);
  return build_result(config, nlohmann::json::parse(model_json), run, nullptr, nlohmann::json::parse(environment_json))
      .dump();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "infermeter's native measurement engine";
  const auto engine_error = py::register_exception<EngineError>(m, "EngineError", PyExc_RuntimeError);
  py::register_exception<OutOfMemory>(m, "OutOfMemoryError", engine_error.ptr());
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

  py::class_<RunConfig>(m, "RunConfig", "What one measurement run is asked to do (see csrc/run_config.h).")
      .def(py::init<>())
      .def_readwrite("model_path", &RunConfig::model_path)
      .def_readwrite("device", &RunConfig::device)
      .def_readwrite("runner", &RunConfig::runner)
      .def_readwrite("batch_size", &RunConfig::batch_size)
      .def_readwrite("threads", &RunConfig::threads)
      .def_readwrite("replicas", &RunConfig::replicas)
      .def_readwrite("intra_op_threads", &RunConfig::intra_op_threads)
      .def_readwrite("warmup_s", &RunConfig::warmup_s)
      .def_readwrite("warmup_min_requests", &RunConfig::warmup_min_requests)
      .def_readwrite("duration_s", &RunConfig::duration_s)
      .def_readwrite("requests", &RunConfig::requests)
      .def_readwrite("ci", &RunConfig::ci)
      .def_readwrite("ci_percentile", &RunConfig::ci_percentile)
      .def_readwrite("min_duration_s", &RunConfig::min_duration_s)
      .def_readwrite("window_s", &RunConfig::window_s)
      .def_readwrite("rate_per_s", &RunConfig::rate_per_s)
      .def_readwrite("arrival", &RunConfig::arrival)
      .def_readwrite("seed", &RunConfig::seed)
      .def_readwrite("inputs", &RunConfig::inputs)
      .def("validate", &validate, "Raises ValueError naming the first option out of range.")
      .def("apply_default_duration", &apply_default_duration,
           "Sets the duration for a run given none: ci's maximum, none with a request count alone, else the fixed "
           "duration.");

  m.attr("RESULT_SCHEMA") = kResultSchema;
  py::list percentile_keys;
  for (const auto& [key, percentile] : kPercentiles) percentile_keys.append(key);
  m.attr("PERCENTILE_KEYS") = py::tuple(percentile_keys);

  m.def("runner_names", &runner_names, "The runners this build knows.");
  m.def(
      "arrival_offsets",
      [](const std::string& process, double rate_per_s, int64_t count, uint64_t seed) {
        return arrival_offsets(parse_arrival_process(process), rate_per_s, count, seed);
      },
      py::arg("process"), py::arg("rate_per_s"), py::arg("count"), py::arg("seed") = 0,
      "The first `count` arrival offsets (ns from the start) of an open loop's schedule: the very schedule a run "
      "with the same arrival process, rate and seed uses.");
  m.def(
      "console_summary", [](const std::string& result_json) { return console_summary(nlohmann::json::parse(result_json)); },
      py::arg("result_json"), "The console summary of a result document (what infermeter-bench prints).");
  m.def(
      "repeat_summary",
      [](const std::vector<std::string>& runs_json) {
        std::vector<nlohmann::json> runs;
        for (const auto& text : runs_json) runs.push_back(nlohmann::json::parse(text));
        return repeat_summary(runs).dump();
      },
      py::arg("runs_json"),
      "How K result documents of one configuration agree: each run, the median-throughput run, and the mean, "
      "stddev, CV and 95% t interval of throughput and of the latency percentiles.");
  m.def("min_samples_for_percentile", &min_samples_for_percentile, py::arg("q"), py::arg("confidence") = 0.95,
        "Fewest samples for which the largest bounds the q-quantile from above with this confidence (MLPerf "
        "LoadGen's early-stopping floor): below it a percentile is not stated.");
  m.def("format_duration_ns", &format_duration_ns, py::arg("ns"),
        "A duration in the unit (ns, µs, ms, s) that shows three significant digits.");
  m.def("run", &run, py::arg("config"), py::arg("calibrate"),
        "Measure a model; returns the result document as JSON text. Ctrl-C raises KeyboardInterrupt whose "
        "argument is the partial result's JSON.");
  m.def("build_python_loop_result", &build_python_loop_result, py::arg("config"), py::arg("model_json"),
        py::arg("workers"), py::arg("batch_size"), py::arg("warmup_requests"), py::arg("interrupted"),
        py::arg("stop_reason"), py::arg("environment_json"),
        "The result document for a closed loop measured from Python threads.");
}
