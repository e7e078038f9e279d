#include "environment.h"

#include "cuda_device_info.h"

#include <ATen/Parallel.h>
#include <torch/version.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <thread>

namespace infermeter {

namespace {

// The value after "key:" on the first line that starts with key.
std::string field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? "" : line.substr(begin);
  }
  return "";
}

// "NVRM version: NVIDIA UNIX ... Kernel Module for x86_64  580.159.04  Release Build ...":
// the first dotted number is the driver's version.
nlohmann::json driver_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  for (std::string word; in >> word;)
    if (!word.empty() && std::isdigit(static_cast<unsigned char>(word[0])) && word.find('.') != std::string::npos &&
        word.find_first_not_of("0123456789.") == std::string::npos)
      return word;
  return nullptr;
}

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace

nlohmann::json describe_environment(const c10::Device& device) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const std::string cpu = field("/proc/cpuinfo", "model name");
  nlohmann::json out = {
      {"torch_version", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                            std::to_string(TORCH_VERSION_PATCH)},
      {"device", device.str()},
      {"device_name", cpu},
      {"driver_version", device.is_cuda() ? driver_version() : nlohmann::json(nullptr)},
      {"cpu_model", cpu},
      {"cpu_count", std::thread::hardware_concurrency()},
      {"intra_op_threads", at::get_num_threads()},
      {"hostname", host},
      {"timestamp", utc_timestamp()},
  };
  if (device.is_cuda()) out.update(cuda_device_facts(device));
  return out;
}

}  // namespace infermeter
