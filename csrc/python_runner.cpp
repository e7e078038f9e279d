#include "python_runner.h"

#include <stdexcept>

#include "infermeter/errors.h"

namespace py = pybind11;

namespace infermeter {

namespace {

// Made and ended on its worker's thread. That thread keeps one Python thread
// state for the replica's life (by default each GIL acquisition on a thread
// Python did not start makes a fresh one), so that thread-local state entered
// in replica() — a threading.local, Elastic Inference's context — is still
// there for every request and for close().
class PythonReplica : public Replica {
 public:
  explicit PythonReplica(py::object replica) : replica_(std::move(replica)) {}

  ~PythonReplica() override {
    py::gil_scoped_acquire gil;
    try {
      replica_.attr("close")();
    } catch (const py::error_already_set&) {
      // Ending the replica's context failed after its measurements: they stand.
    }
    replica_ = py::object();
    gil.dec_ref();  // the thread state kept since make_replica goes with this scope
  }

  c10::IValue infer() override {
    py::gil_scoped_acquire gil;
    try {
      (void)replica_();
    } catch (py::error_already_set& e) {
      // The message is taken while the GIL is held; the Python error is dropped here.
      const std::string message = e.what();
      e.restore();
      PyErr_Clear();
      throw EngineError(message);
    }
    return c10::IValue();
  }

 private:
  py::object replica_;
};

}  // namespace

nlohmann::json python_to_json(const py::handle& value) {
  if (value.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) {
    int overflow = 0;
    const long long small = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (overflow == 0) return static_cast<int64_t>(small);
    if (overflow > 0) {
      const unsigned long long large = PyLong_AsUnsignedLongLong(value.ptr());
      if (!PyErr_Occurred()) return static_cast<uint64_t>(large);
      PyErr_Clear();
    }
    // Python's ints have no bound. Refused here, by the key the dict branch
    // adds: a float in their place would be called "not an integer", and one
    // past the double range would read as null.
    const auto bits = value.attr("bit_length")().cast<int64_t>();
    throw std::invalid_argument("must fit in 64 bits, got " + (bits <= 128 ? py::str(value).cast<std::string>()
                                                                           : "an integer of " + std::to_string(bits) + " bits"));
  }
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) out.push_back(python_to_json(item));
    return out;
  }
  if (py::isinstance<py::dict>(value)) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : value.cast<py::dict>()) {
      const std::string key = py::str(k).cast<std::string>();
      try {
        out[key] = python_to_json(v);
      } catch (const std::invalid_argument& e) {  // named by the key it is the value of
        throw std::invalid_argument(key + " " + e.what());
      }
    }
    return out;
  }
  throw std::invalid_argument("is a " + py::str(value.get_type().attr("__name__")).cast<std::string>() +
                              ", not a plain value (" + py::repr(value).cast<std::string>() + ")");
}

PythonRunner::PythonRunner(py::object model)
    : model_(std::move(model)),
      description_(python_to_json(model_.attr("describe")())),
      batch_size_(model_.attr("batch_size").cast<int64_t>()) {}

PythonRunner::~PythonRunner() { model_ = py::object(); }

std::unique_ptr<Replica> PythonRunner::make_replica(int worker) {
  py::gil_scoped_acquire gil;
  gil.inc_ref();  // keeps this thread's Python thread state until the replica ends
  try {
    return std::make_unique<PythonReplica>(model_.attr("replica")(worker));
  } catch (py::error_already_set& e) {
    const std::string message = e.what();
    e.restore();
    PyErr_Clear();
    gil.dec_ref();
    throw EngineError(message);
  }
}

}  // namespace infermeter
