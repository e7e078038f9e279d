#include "model_inputs.h"

#include <algorithm>
#include <stdexcept>

namespace infermeter {

ModelInputs::ModelInputs(const std::vector<ExplicitInput>& explicit_inputs, const std::string& stored_spec,
                         std::optional<int64_t> requested_batch, uint64_t seed, const c10::Device& device,
                         const std::string& model_path)
    : device_(device), model_path_(model_path), seed_(seed) {
  if (!explicit_inputs.empty()) {
    fixed_ = make_inputs(explicit_inputs, device_);
    for (const auto& input : explicit_inputs) names_.push_back(input.name);
  } else if (!stored_spec.empty()) {
    specs_ = parse_input_spec(stored_spec);
    for (const auto& spec : specs_) names_.push_back(spec.name);
  } else {
    throw std::invalid_argument("model '" + model_path +
                                "' stores no input spec: export it with infermeter (infermeter.export or "
                                "infermeter.benchmark on an nn.Module), or pass inputs explicitly");
  }
  batch_dynamic_ = std::any_of(specs_.begin(), specs_.end(),
                               [](const InputSpec& s) { return !s.shape.empty() && s.shape[0] == -1; });
  batch_size_ = resolve_batch_size(requested_batch);
}

int64_t ModelInputs::resolve_batch_size(std::optional<int64_t> requested) const {
  if (!fixed_.empty()) {
    const auto& first = fixed_.front().toTensor();
    const int64_t fixed = first.dim() > 0 ? first.size(0) : 1;
    if (requested && *requested != fixed)
      throw std::invalid_argument("batch_size " + std::to_string(*requested) +
                                  " differs from the leading dimension of the explicit inputs (" +
                                  std::to_string(fixed) + ")");
    return fixed;
  }
  if (batch_dynamic_ || specs_.empty() || specs_.front().shape.empty()) return requested.value_or(1);
  const int64_t fixed = specs_.front().shape[0];
  if (requested && *requested != fixed)
    throw std::invalid_argument("the model was exported for a fixed batch of " + std::to_string(fixed) +
                                " (its graph does not run at other batch sizes); export it again with "
                                "batch size " + std::to_string(*requested));
  return fixed;
}

std::vector<c10::IValue> ModelInputs::for_worker(int worker) const {
  if (!fixed_.empty()) {
    std::vector<c10::IValue> copies;
    for (const auto& v : fixed_) copies.emplace_back(v.toTensor().clone());
    return copies;
  }
  return make_inputs(specs_, batch_size_, device_, seed_ + static_cast<uint64_t>(worker));
}

std::vector<int64_t> ModelInputs::prepare_every_size(int64_t max_items) {
  if (!fixed_.empty())
    throw std::invalid_argument("dynamic batching makes batches of varying size from the model's input spec; "
                                "explicit inputs fix one batch");
  if (!batch_dynamic_)
    throw std::invalid_argument("model '" + model_path_ + "' was exported for a fixed batch of " +
                                std::to_string(batch_size_) +
                                "; dynamic batching runs it at varying sizes: export it with a dynamic batch "
                                "(without --static-batch)");
  largest_prepared_ = max_items;
  std::vector<int64_t> computed_at(static_cast<size_t>(max_items) + 1, 0);
  for (int64_t n = 1; n <= max_items; ++n) computed_at[n] = n;
  return computed_at;
}

std::vector<std::vector<c10::IValue>> ModelInputs::for_worker_by_size(int worker) const {
  if (largest_prepared_ == 0) return {};
  const auto full = make_inputs(specs_, largest_prepared_, device_, seed_ + static_cast<uint64_t>(worker));
  std::vector<std::vector<c10::IValue>> by_size(static_cast<size_t>(largest_prepared_) + 1);
  for (int64_t size = 1; size <= largest_prepared_; ++size)
    for (size_t i = 0; i < full.size(); ++i) {
      // Only inputs with a batch dimension (-1 in the spec) are cut to the size.
      const bool batched = !specs_[i].shape.empty() && specs_[i].shape[0] == -1;
      by_size[size].emplace_back(batched ? full[i].toTensor().narrow(0, 0, size) : full[i]);
    }
  return by_size;
}

int64_t ModelInputs::bytes() const {
  if (!fixed_.empty()) {
    int64_t total = 0;
    for (const auto& v : fixed_) total += static_cast<int64_t>(v.toTensor().nbytes());
    return total;
  }
  return input_bytes(specs_, largest_prepared_ > 0 ? largest_prepared_ : batch_size_);
}

nlohmann::json ModelInputs::describe() const {
  const auto values = for_worker(0);
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < values.size(); ++i) {
    const auto& t = values[i].toTensor();
    out.push_back({{"name", i < names_.size() ? names_[i] : "input" + std::to_string(i)},
                   {"shape", t.sizes().vec()},
                   {"dtype", std::string(c10::toString(t.scalar_type()))}});
  }
  return out;
}

}  // namespace infermeter
