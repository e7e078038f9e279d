// infermeter-bench: the engine with no Python in the process.
#include <dlfcn.h>

#include <csignal>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "infermeter/engine.h"
#include "infermeter/errors.h"
#include "interval_log.h"
#include "fresh_processes.h"
#include "repeats.h"
#include "reporters.h"
#include "runner_registry.h"

using namespace infermeter;

namespace {

volatile std::sig_atomic_t interrupted = 0;

void on_signal(int) { interrupted = 1; }

struct Options {
  RunConfig config;
  std::string json_path;
  std::string hlog_path;
  std::vector<std::string> libraries;
  bool calibrate = true;
  bool duration_given = false;
  int repeat = 1;
  // Every flag given but --repeat, --json and --hlog: what each repeat's
  // fresh process is started with.
  std::vector<std::string> child_args;
};

[[noreturn]] void usage_error(const std::string& message);

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

// For fields held as int: a value beyond int's range is refused, not wrapped.
int to_small_int(const std::string& flag, const std::string& text) {
  const int64_t v = to_int(flag, text);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    usage_error(flag + " is out of range, got '" + text + "'");
  return static_cast<int>(v);
}

uint64_t to_seed(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    if (!text.empty() && text[0] != '-') {
      const unsigned long long v = std::stoull(text, &used);
      if (used == text.size()) return v;
    }
  } catch (const std::exception&) {
  }
  usage_error(flag + " expects an integer from 0 to 2^64 - 1, got '" + text + "'");
}

// One row per flag: adding an option is a RunConfig field plus a row here.
struct Flag {
  const char* name;
  const char* value;  // nullptr: the flag takes no value
  const char* help;
  std::function<void(Options&, const std::string& flag, const std::string& value)> apply;
};

const std::vector<Flag>& flags() {
  static const std::vector<Flag> table = {
      {"--batch-size", "N", "requests carry N inferences (default 1, or the batch the model was exported for when its graph is fixed to it)",
       [](Options& o, auto& f, auto& v) { o.config.batch_size = to_int(f, v); }},
      {"--threads", "N", "concurrent client threads (default 1)",
       [](Options& o, auto& f, auto& v) { o.config.threads = to_small_int(f, v); }},
      {"--device", "DEV", "cpu or cuda:N (default cpu)", [](Options& o, auto&, auto& v) { o.config.device = v; }},
      {"--runner", "NAME", "what runs the model: torchscript (the interpreter), cuda-graph (each request replays a captured CUDA graph) or aoti (an AOTInductor .pt2 package) (default torchscript)",
       [](Options& o, auto&, auto& v) { o.config.runner = v; }},
      {"--replicas", "MODE", "per-thread (a copy of the weights per thread) or shared (default per-thread)",
       [](Options& o, auto& f, auto& v) {
         if (v != "per-thread" && v != "shared" && v != "per-thread-load")
           usage_error(f + " must be per-thread or shared, got '" + v + "'");
         o.config.replicas = v;
       }},
      {"--intra-op-threads", "N", "torch's intra-op threads per client thread (default: cores / threads, at least 1)",
       [](Options& o, auto& f, auto& v) { o.config.intra_op_threads = to_small_int(f, v); }},
      {"--warmup", "SECONDS", "warm-up time, excluded from results (default 1)",
       [](Options& o, auto& f, auto& v) { o.config.warmup_s = to_double(f, v); }},
      {"--warmup-min-requests", "N", "each thread also completes N warm-up requests (default 2)",
       [](Options& o, auto& f, auto& v) { o.config.warmup_min_requests = to_int(f, v); }},
      {"--duration", "SECONDS", "measuring time (default 5, or unlimited when --requests is given)",
       [](Options& o, auto& f, auto& v) {
         o.config.duration_s = to_double(f, v);
         o.duration_given = true;
       }},
      {"--requests", "N", "stop after N measured requests", [](Options& o, auto& f, auto& v) { o.config.requests = to_int(f, v); }},
      {"--ci", "REL", "stop once throughput and the --ci-percentile latency are both known to +-REL at 95% (e.g. 0.02); --duration is then the most it runs (default 60)",
       [](Options& o, auto& f, auto& v) { o.config.ci = to_double(f, v); }},
      {"--ci-percentile", "P", "the latency percentile --ci must pin down (default 99)",
       [](Options& o, auto& f, auto& v) { o.config.ci_percentile = to_double(f, v); }},
      {"--min-duration", "SECONDS", "with --ci: measure at least this long (default 1)",
       [](Options& o, auto& f, auto& v) { o.config.min_duration_s = to_double(f, v); }},
      {"--rate", "PER_S", "open loop: requests arrive at this mean rate whatever the threads are doing; response time counts the wait for a free thread (default: closed loop)",
       [](Options& o, auto& f, auto& v) { o.config.rate_per_s = to_double(f, v); }},
      {"--arrival", "KIND", "open-loop arrivals: poisson (seeded by --seed) or constant (default poisson)",
       [](Options& o, auto&, auto& v) { o.config.arrival = v; }},
      {"--window", "SECONDS", "width of the throughput-over-time windows (default 0.1)",
       [](Options& o, auto& f, auto& v) { o.config.window_s = to_double(f, v); }},
      {"--seed", "N", "seed for the generated inputs and the Poisson arrivals (default 0)",
       [](Options& o, auto& f, auto& v) { o.config.seed = to_seed(f, v); }},
      {"--json", "PATH", "write the result document (same schema as the Python API)",
       [](Options& o, auto&, auto& v) { o.json_path = v; }},
      {"--hlog", "PATH", "write the host latency histogram as an HdrHistogram interval log",
       [](Options& o, auto&, auto& v) { o.hlog_path = v; }},
      {"--repeat", "K", "K independent measurements, each in a fresh process; reports the median-throughput run with every run's figures, their mean, CV and 95% interval",
       [](Options& o, auto& f, auto& v) { o.repeat = to_small_int(f, v); }},
      {"--load-library", "PATH", "load a library of custom TorchScript operators first (repeatable), e.g. torch-neuron's libtorchneuron.so",
       [](Options& o, auto&, auto& v) { o.libraries.push_back(v); }},
      {"--no-calibrate", nullptr, "skip measuring the harness's own costs", [](Options& o, auto&, auto&) { o.calibrate = false; }},
  };
  return table;
}

std::string usage() {
  std::string text =
      "usage: infermeter-bench MODEL [options]\n\n"
      "Measures a model exported by infermeter (a TorchScript .pt or an AOTInductor .pt2; its input spec\n"
      "is stored in the file) with native client threads, in a closed loop or, with --rate, an open one.\n\noptions:\n";
  for (const auto& f : flags()) {
    std::string left = std::string("  ") + f.name + (f.value ? std::string(" ") + f.value : "");
    left.resize(std::max<size_t>(left.size() + 2, 28), ' ');
    text += left + f.help + "\n";
  }
  return text + "  -h, --help                show this help\n";
}

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "infermeter-bench: " << message << "\n\n" << usage();
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << usage();
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      if (!o.config.model_path.empty()) usage_error("more than one model given ('" + arg + "')");
      o.config.model_path = arg;
      o.child_args.push_back(arg);
      continue;
    }
    const auto found = std::find_if(flags().begin(), flags().end(), [&](const Flag& f) { return arg == f.name; });
    if (found == flags().end()) usage_error("unknown option " + arg);
    std::string value;
    if (found->value) {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      value = argv[++i];
    }
    found->apply(o, arg, value);
    if (arg != "--repeat" && arg != "--json" && arg != "--hlog") {
      o.child_args.push_back(arg);
      if (found->value) o.child_args.push_back(value);
    }
  }
  if (o.repeat < 1) usage_error("--repeat must be >= 1, got " + std::to_string(o.repeat));
  if (o.repeat > 1 && !o.hlog_path.empty()) usage_error("--hlog writes one run's histogram: leave it out with --repeat");
  if (o.config.model_path.empty()) usage_error("no model given");
  if (!o.duration_given) apply_default_duration(o.config);
  // Values out of range are the engine's to judge (RunConfig's validate), in
  // one line without the usage text, like every other run-time error.
  return o;
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

// --repeat K: K fresh processes of this binary, summarised (repeats.h).
int run_repeated(const Options& options) {
  validate(options.config);
  auto runs = run_in_fresh_processes(options.child_args, options.repeat, interrupted);
  if (runs.empty()) {
    std::cerr << "infermeter-bench: interrupted before the first repeat finished\n";
    return 130;
  }
  auto result = runs[median_run(runs)];
  result["repeats"] = repeat_summary(runs);
  std::cout << console_summary(result);
  if (!options.json_path.empty()) write_json(options.json_path, result);
  const bool stopped = interrupted || static_cast<int>(runs.size()) < options.repeat;
  return stopped ? 130 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    if (options.repeat > 1) return run_repeated(options);
    load_libraries(options.libraries);
    const Measurement m = measure(options.config, [] { return interrupted != 0; }, options.calibrate);
    auto result = m.result;
    result["environment"]["runner"] = "infermeter-bench";
    std::cout << console_summary(result);
    if (!options.json_path.empty()) write_json(options.json_path, result);
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
