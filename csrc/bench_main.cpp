// infermeter-bench: the engine with no Python in the process.
#include <dlfcn.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "engine.h"
#include "errors.h"
#include "interval_log.h"

using namespace infermeter;

namespace {

constexpr const char* kUsage = R"(usage: infermeter-bench MODEL.pt [options]

Measures a TorchScript model exported by infermeter (its input spec is stored
in the file) with native client threads in a closed loop.

options:
  --batch-size N            requests carry N inferences (default 1, or the batch the model was
                            exported for when its graph is fixed to it)
  --threads N               concurrent client threads (default 1)
  --device DEV              cpu or cuda:N (default cpu)
  --replicas MODE           per-thread (a copy of the weights per thread) or shared (default per-thread)
  --warmup SECONDS          warm-up time, excluded from results (default 1)
  --warmup-min-requests N   each thread also completes N warm-up requests (default 2)
  --duration SECONDS        measuring time (default 5, or unlimited when --requests is given)
  --requests N              stop after N measured requests
  --window SECONDS          width of the throughput-over-time windows (default 0.1)
  --seed N                  seed for the generated inputs (default 0)
  --json PATH               write the result document (same schema as the Python API)
  --hlog PATH               write the host latency histogram as an HdrHistogram interval log
  --load-library PATH       load a library of custom TorchScript operators first (repeatable), e.g.
                            torch-neuron's libtorchneuron.so for a model compiled for Inferentia
  --no-calibrate            skip measuring the harness's own costs
  -h, --help                show this help
)";

volatile std::sig_atomic_t interrupted = 0;

void on_signal(int) { interrupted = 1; }

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "infermeter-bench: " << message << "\n\n" << kUsage;
  std::exit(2);
}

double to_double(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  usage_error(flag + " expects a number, got '" + text + "'");
}

int64_t to_int(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  usage_error(flag + " expects an integer, got '" + text + "'");
}

struct Options {
  RunConfig config;
  std::string json_path;
  std::string hlog_path;
  std::vector<std::string> libraries;
  bool calibrate = true;
};

Options parse(int argc, char** argv) {
  Options o;
  bool duration_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (arg == "--no-calibrate") {
      o.calibrate = false;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!o.config.model_path.empty()) usage_error("more than one model given ('" + arg + "')");
      o.config.model_path = arg;
      continue;
    }
    if (i + 1 >= argc) usage_error(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--batch-size") o.config.batch_size = to_int(arg, value);
    else if (arg == "--threads") o.config.threads = static_cast<int>(to_int(arg, value));
    else if (arg == "--device") o.config.device = value;
    else if (arg == "--replicas") {
      if (value == "per-thread") o.config.replicas = Replicas::kPerThread;
      else if (value == "shared") o.config.replicas = Replicas::kShared;
      else usage_error("--replicas must be per-thread or shared");
    } else if (arg == "--warmup") o.config.warmup_s = to_double(arg, value);
    else if (arg == "--warmup-min-requests") o.config.warmup_min_requests = to_int(arg, value);
    else if (arg == "--duration") {
      o.config.duration_s = to_double(arg, value);
      duration_given = true;
    } else if (arg == "--requests") o.config.requests = to_int(arg, value);
    else if (arg == "--window") o.config.window_s = to_double(arg, value);
    else if (arg == "--seed") o.config.seed = static_cast<uint64_t>(to_int(arg, value));
    else if (arg == "--json") o.json_path = value;
    else if (arg == "--hlog") o.hlog_path = value;
    else if (arg == "--load-library") o.libraries.push_back(value);
    else usage_error("unknown option " + arg);
  }
  if (o.config.model_path.empty()) usage_error("no model given");
  if (o.config.requests && !duration_given) o.config.duration_s.reset();
  return o;
}

void print_summary(const nlohmann::json& r) {
  const auto& m = r["measurement"];
  std::printf("model        %s\n", r["model"]["path"].get<std::string>().c_str());
  std::printf("device       %s, batch %lld, %d thread(s)\n", r["config"]["device"].get<std::string>().c_str(),
              r["config"]["batch_size"].get<long long>(), r["config"]["threads"].get<int>());
  std::printf("requests     %lld in %.3f s%s\n", m["requests"].get<long long>(), m["elapsed_s"].get<double>(),
              m["interrupted"].get<bool>() ? " (interrupted)" : "");
  std::printf("throughput   %.1f inferences/s, %.1f requests/s\n", m["inferences_per_s"].get<double>(),
              m["requests_per_s"].get<double>());
  for (const char* kind : {"host", "launch", "device"}) {
    const auto& l = r["latency"][kind];
    if (l.is_null()) continue;
    std::printf("%-6s ms    mean %.3f  p50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  max %.3f\n", kind,
                l["mean_ns"].get<double>() / 1e6, l["p50_ns"].get<double>() / 1e6, l["p90_ns"].get<double>() / 1e6,
                l["p95_ns"].get<double>() / 1e6, l["p99_ns"].get<double>() / 1e6, l["max_ns"].get<double>() / 1e6);
  }
  if (!r["calibration"].is_null())
    std::printf("harness      %.0f ns per no-op request\n", r["calibration"]["noop_request_ns"].get<double>());
}

// Operator libraries register their kernels when loaded; RTLD_GLOBAL lets
// later libraries resolve against them.
void load_libraries(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    if (!dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      const char* why = dlerror();
      throw std::invalid_argument("cannot load operator library '" + path + "': " + (why ? why : "unknown error"));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    load_libraries(options.libraries);
    const Measurement m = measure(options.config, [] { return interrupted != 0; }, options.calibrate);
    auto result = m.result;
    result["environment"]["runner"] = "infermeter-bench";
    print_summary(result);
    if (!options.json_path.empty()) {
      std::ofstream out(options.json_path);
      out << result.dump(2) << "\n";
      if (!out) throw std::invalid_argument("cannot write '" + options.json_path + "'");
    }
    if (!options.hlog_path.empty())
      write_interval_log(options.hlog_path, m.host, m.start_epoch_s, result["measurement"]["elapsed_s"].get<double>(),
                         "host");
    return interrupted ? 130 : 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "infermeter-bench: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "infermeter-bench: " << e.what() << "\n";
    return 1;
  }
}
