#include "input_spec.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace infermeter {

namespace {

c10::ScalarType parse_dtype(const std::string& name) {
  static const std::pair<const char*, c10::ScalarType> kTypes[] = {
      {"float32", at::kFloat}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16}, {"float64", at::kDouble},
      {"int64", at::kLong},    {"int32", at::kInt},    {"int16", at::kShort},       {"int8", at::kChar},
      {"uint8", at::kByte},    {"bool", at::kBool}};
  for (const auto& [text, type] : kTypes)
    if (name == text) return type;
  throw std::invalid_argument("unsupported input dtype '" + name +
                              "' (use float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8 or bool)");
}

}  // namespace

std::vector<InputSpec> parse_input_spec(const std::string& json_text) {
  std::vector<InputSpec> specs;
  try {
    const auto doc = nlohmann::json::parse(json_text);
    for (const auto& item : doc.at("inputs")) {
      InputSpec spec;
      spec.name = item.at("name").get<std::string>();
      spec.shape = item.at("shape").get<std::vector<int64_t>>();
      spec.dtype = item.at("dtype").get<std::string>();
      spec.low = item.value("low", 0.0);
      spec.high = item.value("high", 1.0);
      specs.push_back(std::move(spec));
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("malformed input spec: ") + e.what());
  }
  for (const auto& spec : specs) {
    parse_dtype(spec.dtype);
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      if (spec.shape[d] == -1 && d != 0)
        throw std::invalid_argument("input '" + spec.name + "': only the leading dimension can be the batch (-1)");
      if (spec.shape[d] == 0 || spec.shape[d] < -1)
        throw std::invalid_argument("input '" + spec.name + "': dimension " + std::to_string(d) + " is invalid");
    }
    if (!(spec.high > spec.low)) throw std::invalid_argument("input '" + spec.name + "': high must exceed low");
  }
  return specs;
}

std::vector<c10::IValue> make_inputs(const std::vector<InputSpec>& specs, int64_t batch_size, const c10::Device& device,
                                     uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<c10::IValue> values;
  for (const auto& spec : specs) {
    std::vector<int64_t> shape = spec.shape;
    if (!shape.empty() && shape[0] == -1) shape[0] = batch_size;
    const auto type = parse_dtype(spec.dtype);
    at::Tensor t;
    if (at::isFloatingType(type)) {
      t = at::empty(shape, at::kFloat).uniform_(spec.low, spec.high, generator).to(type);
    } else {
      const auto low = static_cast<int64_t>(std::ceil(spec.low));
      const auto high = std::max(low + 1, static_cast<int64_t>(std::ceil(spec.high)));
      t = at::randint(low, high, shape, generator, at::TensorOptions().dtype(at::kLong)).to(type);
    }
    values.emplace_back(t.to(device));
  }
  return values;
}

std::vector<c10::IValue> make_inputs(const std::vector<ExplicitInput>& inputs, const c10::Device& device) {
  std::vector<c10::IValue> values;
  for (const auto& input : inputs) {
    const auto type = parse_dtype(input.dtype);
    const int64_t expected = c10::multiply_integers(input.shape) * static_cast<int64_t>(c10::elementSize(type));
    if (expected != static_cast<int64_t>(input.bytes.size()))
      throw std::invalid_argument("input '" + input.name + "': " + std::to_string(input.bytes.size()) +
                                  " bytes do not fill its shape (" + std::to_string(expected) + " expected)");
    auto cpu = at::empty(input.shape, at::TensorOptions().dtype(type));
    std::memcpy(cpu.data_ptr(), input.bytes.data(), input.bytes.size());
    values.emplace_back(cpu.to(device));
  }
  return values;
}

int64_t input_bytes(const std::vector<InputSpec>& specs, int64_t batch_size) {
  int64_t total = 0;
  for (const auto& spec : specs) {
    int64_t elements = 1;
    for (const int64_t d : spec.shape) elements *= d == -1 ? batch_size : d;
    total += elements * static_cast<int64_t>(c10::elementSize(parse_dtype(spec.dtype)));
  }
  return total;
}

}  // namespace infermeter
