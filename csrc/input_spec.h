// The inputs a model takes: read from the JSON the exporter stores in the
// TorchScript file (extra file `infermeter/inputs.json`), or given explicitly.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

#include "infermeter/run_config.h"

namespace infermeter {

inline constexpr const char* kInputSpecFile = "infermeter/inputs.json";
inline constexpr const char* kExportInfoFile = "infermeter/export.json";

// One input tensor. A shape entry of -1 marks the batch dimension, which must
// be the leading one. Values are drawn uniformly from [low, high).
struct InputSpec {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;
  double low = 0.0;
  double high = 1.0;
};

std::vector<InputSpec> parse_input_spec(const std::string& json_text);

// Builds one request's inputs on `device`; deterministic for a given seed.
std::vector<c10::IValue> make_inputs(const std::vector<InputSpec>& specs, int64_t batch_size, const c10::Device& device,
                                     uint64_t seed);
std::vector<c10::IValue> make_inputs(const std::vector<ExplicitInput>& inputs, const c10::Device& device);

// Bytes one request's inputs of `specs` occupy at `batch_size`.
int64_t input_bytes(const std::vector<InputSpec>& specs, int64_t batch_size);

}  // namespace infermeter
