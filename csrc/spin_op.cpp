// `torch.ops.infermeter.spin(x, ns)`: an operator whose latency is known
// exactly, so that tests can check what the engine reports against ground
// truth. It busy-waits on the same steady clock the engine times with (a
// sleep would add the scheduler's wake-up delay, tens of microseconds) and
// returns its input unchanged.
//
// Registered for every backend at once (CompositeExplicitAutograd): the wait
// is on the host and never touches the tensor's data, so a CUDA tensor works
// without any CUDA code here. On a GPU it models host-side work only.
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include "clock.h"

namespace infermeter {
namespace {

at::Tensor spin(const at::Tensor& x, int64_t ns) {
  TORCH_CHECK(ns >= 0, "infermeter::spin: ns must be >= 0, got ", ns);
  // Overshoots the deadline by at most one clock read (about 20 ns).
  const int64_t deadline = now_ns() + ns;
  while (now_ns() < deadline) {
  }
  return x;
}

}  // namespace
}  // namespace infermeter

// The schema declares that the result aliases `x` (it is `x`), so TorchScript's
// alias analysis stays correct without the cost of a copy.
TORCH_LIBRARY(infermeter, m) { m.def("spin(Tensor(a) x, int ns) -> Tensor(a)"); }

TORCH_LIBRARY_IMPL(infermeter, CompositeExplicitAutograd, m) { m.impl("spin", &infermeter::spin); }
