#include "run_config.h"

#include <stdexcept>

namespace infermeter {

void validate(const RunConfig& config) {
  if (config.model_path.empty()) throw std::invalid_argument("model path is empty");
  if (config.threads <= 0) throw std::invalid_argument("threads must be >= 1, got " + std::to_string(config.threads));
  if (config.batch_size && *config.batch_size <= 0)
    throw std::invalid_argument("batch_size must be >= 1, got " + std::to_string(*config.batch_size));
  if (config.warmup_s < 0) throw std::invalid_argument("warmup must be >= 0 seconds");
  if (config.warmup_min_requests < 0) throw std::invalid_argument("warmup_min_requests must be >= 0");
  if (config.duration_s && *config.duration_s <= 0) throw std::invalid_argument("duration must be > 0 seconds");
  if (config.requests && *config.requests <= 0) throw std::invalid_argument("requests must be >= 1");
  if (!config.duration_s && !config.requests)
    throw std::invalid_argument("give a duration, a request count, or both, so that the run ends");
  if (config.window_s <= 0) throw std::invalid_argument("window must be > 0 seconds");
}

}  // namespace infermeter
