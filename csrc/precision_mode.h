// The float32 mode a model was exported for, set for the run and restored
// after it: an fp32 export means IEEE fp32 (TF32 off for cuBLAS and cuDNN,
// although torch leaves cuDNN's TF32 on by default), a tf32 export means
// TF32 on for both. A model without export facts runs in the process's mode.
#pragma once

#include <nlohmann/json.hpp>

namespace infermeter {

class PrecisionMode {
 public:
  // `model` is a runner's describe(): its export facts name the precision.
  explicit PrecisionMode(const nlohmann::json& model);
  ~PrecisionMode();
  PrecisionMode(const PrecisionMode&) = delete;
  PrecisionMode& operator=(const PrecisionMode&) = delete;

 private:
  bool set_ = false;
  bool cublas_tf32_ = false;
  bool cudnn_tf32_ = false;
};

}  // namespace infermeter
