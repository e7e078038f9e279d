// Bytes of tensor data a value holds (a tensor, or tensors within tuples,
// lists and dicts), each storage counted once: what a request's outputs, or a
// model's weights, occupy.
#pragma once

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <unordered_set>

namespace infermeter {

inline void add_tensor_bytes(const c10::IValue& v, std::unordered_set<const void*>& seen, int64_t& total) {
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    if (t.defined() && t.has_storage() && seen.insert(t.storage().unsafeGetStorageImpl()).second)
      total += static_cast<int64_t>(t.storage().nbytes());
  } else if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) add_tensor_bytes(e, seen, total);
  } else if (v.isList()) {
    for (const auto& e : v.toListRef()) add_tensor_bytes(e, seen, total);
  } else if (v.isGenericDict()) {
    for (const auto& e : v.toGenericDict()) add_tensor_bytes(e.value(), seen, total);
  }
}

inline int64_t tensor_bytes(const c10::IValue& v) {
  std::unordered_set<const void*> seen;
  int64_t total = 0;
  add_tensor_bytes(v, seen, total);
  return total;
}

}  // namespace infermeter
