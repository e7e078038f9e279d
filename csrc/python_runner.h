// A runner whose requests are Python calls, for runtimes whose state lives in
// a Python context: Elastic Inference's optimized_execution is entered per
// Python thread. It runs in the engine's own worker pool, so the load, stop
// rules, recording and result are every other runner's; Python is on this
// runner's request path alone (each request takes the GIL). Built into the
// extension only: the binary has no Python.
#pragma once

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

#include "infermeter/model_runner.h"

namespace infermeter {

// Plain Python values (None, bool, int, float, str, lists, tuples, dicts) as
// JSON; floats keep inf and nan. std::invalid_argument for anything else and
// for an int past 64 bits, named by its key in the dict that holds it.
nlohmann::json python_to_json(const pybind11::handle& value);

// `model` (python/infermeter/backends/python_runner.py's protocol) has
// describe() -> dict (the result's "model"), batch_size -> int, and
// replica(worker) -> an object that is called for each request and whose
// close() ends the replica; replica() and close() run on the worker's own
// thread, so a per-thread context entered in one is left in the other.
class PythonRunner : public ModelRunner {
 public:
  // Under the GIL.
  explicit PythonRunner(pybind11::object model);
  ~PythonRunner() override;  // under the GIL

  std::unique_ptr<Replica> make_replica(int worker) override;
  nlohmann::json describe() const override { return description_; }
  int64_t batch_size() const override { return batch_size_; }

 private:
  pybind11::object model_;
  nlohmann::json description_;
  int64_t batch_size_;
};

}  // namespace infermeter
