#include "precision_mode.h"

#include <ATen/Context.h>

#include <string>

namespace infermeter {

PrecisionMode::PrecisionMode(const nlohmann::json& model) {
  const auto facts = model.find("export");
  if (facts == model.end() || !facts->is_object()) return;
  const std::string precision = facts->value("precision", "");
  if (precision != "fp32" && precision != "tf32") return;
  auto& context = at::globalContext();
  cublas_tf32_ = context.allowTF32CuBLAS();
  cudnn_tf32_ = context.allowTF32CuDNN();
  const bool tf32 = precision == "tf32";
  context.setAllowTF32CuBLAS(tf32);
  context.setAllowTF32CuDNN(tf32);
  set_ = true;
}

PrecisionMode::~PrecisionMode() {
  if (!set_) return;
  auto& context = at::globalContext();
  context.setAllowTF32CuBLAS(cublas_tf32_);
  context.setAllowTF32CuDNN(cudnn_tf32_);
}

}  // namespace infermeter
