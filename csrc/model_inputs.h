// The tensors every request of a run sends: explicit ones the caller gave, or
// ones generated from the spec the exporter stored with the model. Shared by
// every runner, so that batch-size rules and input generation exist once.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "input_spec.h"

namespace infermeter {

class ModelInputs {
 public:
  // `stored_spec` is the JSON text of the model's stored input spec (empty when
  // it has none); `model_path` only names the model in errors.
  ModelInputs(const std::vector<ExplicitInput>& explicit_inputs, const std::string& stored_spec,
              std::optional<int64_t> requested_batch, uint64_t seed, const c10::Device& device,
              const std::string& model_path);

  int64_t batch_size() const { return batch_size_; }
  // Whether the spec marks a batch dimension that may take any size.
  // A worker's own inputs: generated with the worker's seed, or a copy of the
  // explicit tensors.
  std::vector<c10::IValue> for_worker(int worker) const;
  // For a runner that computes whatever batch it is given: readies inputs
  // at every size from 1 to max_items and returns the size each item count
  // is computed at, itself (ModelRunner::prepare_batches).
  // std::invalid_argument unless batches of any size can be made: the model
  // was exported with a batch-dynamic graph, and no explicit inputs fix it.
  std::vector<int64_t> prepare_every_size(int64_t max_items);
  // A worker's inputs at each prepared size (entry s for size s; empty when
  // none were prepared): views of one allocation at the largest, so a
  // request at any size allocates nothing.
  std::vector<std::vector<c10::IValue>> for_worker_by_size(int worker) const;
  // name, shape (batch applied) and dtype of each input, for the result.
  nlohmann::json describe() const;
  // Bytes a worker's inputs occupy: one request's, or, once prepared for
  // every size, the allocation at the largest.
  int64_t bytes() const;

 private:
  int64_t resolve_batch_size(std::optional<int64_t> requested) const;

  c10::Device device_;
  std::string model_path_;
  std::vector<InputSpec> specs_;
  std::vector<c10::IValue> fixed_;
  std::vector<std::string> names_;
  int64_t batch_size_ = 1;
  bool batch_dynamic_ = false;
  int64_t largest_prepared_ = 0;  // prepare_every_size's; 0: none
  uint64_t seed_ = 0;
};

}  // namespace infermeter
