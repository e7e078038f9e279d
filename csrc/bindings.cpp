// The Python extension `infermeter._core`. Arguments are converted while the
// GIL is held, the engine runs with it released, and only a JSON string comes
// back, so no Python object is ever touched without the GIL.
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engine.h"
#include "errors.h"
#include "histogram.h"

namespace py = pybind11;
using namespace infermeter;

namespace {

std::string run(const std::string& model_path, const std::string& device, std::optional<int64_t> batch_size, int threads,
                const std::string& replicas, double warmup_s, int64_t warmup_min_requests,
                std::optional<double> duration_s, std::optional<int64_t> requests, double window_s, uint64_t seed,
                const std::vector<std::tuple<std::string, std::vector<int64_t>, std::string, py::bytes>>& inputs,
                bool calibrate) {
  RunConfig config;
  config.model_path = model_path;
  config.device = device;
  config.batch_size = batch_size;
  config.threads = threads;
  if (replicas == "per-thread")
    config.replicas = Replicas::kPerThread;
  else if (replicas == "shared")
    config.replicas = Replicas::kShared;
  else
    throw std::invalid_argument("replicas must be 'per-thread' or 'shared', got '" + replicas + "'");
  config.warmup_s = warmup_s;
  config.warmup_min_requests = warmup_min_requests;
  config.duration_s = duration_s;
  config.requests = requests;
  config.window_s = window_s;
  config.seed = seed;
  for (const auto& [name, shape, dtype, bytes] : inputs) config.inputs.push_back({name, shape, dtype, std::string(bytes)});

  bool interrupted_by_signal = false;
  // Ctrl-C reaches Python only as a pending signal: look for it briefly under
  // the GIL so a long run stops promptly.
  const AbortCheck should_abort = [&interrupted_by_signal] {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) interrupted_by_signal = true;
    return interrupted_by_signal;
  };
  std::string text;
  {
    py::gil_scoped_release release;
    text = measure(config, should_abort, calibrate).result.dump();
  }
  if (interrupted_by_signal) throw py::error_already_set();
  return text;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "infermeter's native measurement engine";
  const auto engine_error = py::register_exception<EngineError>(m, "EngineError", PyExc_RuntimeError);
  py::register_exception<OutOfMemory>(m, "OutOfMemoryError", engine_error.ptr());
  m.def("run", &run, py::arg("model_path"), py::arg("device"), py::arg("batch_size"), py::arg("threads"),
        py::arg("replicas"), py::arg("warmup_s"), py::arg("warmup_min_requests"), py::arg("duration_s"),
        py::arg("requests"), py::arg("window_s"), py::arg("seed"), py::arg("inputs"), py::arg("calibrate"),
        "Measure a TorchScript model; returns the result document as JSON text.");
  m.def(
      "encode_histogram",
      [](const std::vector<int64_t>& values) {
        Histogram h;
        for (const auto v : values) h.record(v);
        return h.encode();
      },
      "Record values into the engine's histogram and return its HdrHistogram encoding (for tests).");
  m.def(
      "histogram_summary",
      [](const std::vector<int64_t>& values, const std::vector<double>& percentiles) {
        Histogram h;
        for (const auto v : values) h.record(v);
        std::vector<int64_t> at;
        for (const auto p : percentiles) at.push_back(h.value_at_percentile(p));
        return py::dict(py::arg("count") = h.total_count(), py::arg("min") = h.min_value(),
                        py::arg("max") = h.max_value(), py::arg("mean") = h.mean(), py::arg("stddev") = h.stddev(),
                        py::arg("percentiles") = at);
      },
      "The engine histogram's statistics for the given values (for tests).");
}
