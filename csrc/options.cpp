#include "infermeter/options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "dynamic_batching.h"
#include "infermeter/load_generator.h"
#include "runner_registry.h"

namespace infermeter {

namespace {

using nlohmann::json;

// A day: far beyond any measurement, well inside int64 nanoseconds.
constexpr double kMaxSeconds = 86400.0;
const char* const kSecondsWhy = "a day: far beyond any measurement, well inside the clock's int64 nanoseconds";

std::string number_text(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.15g", v);
  return text;
}

bool given(const json& options, const char* name) { return options.contains(name) && !options.at(name).is_null(); }

// The binding of a RunConfig field, by the field's type.
template <typename T>
FieldBinding field(T RunConfig::*member) {
  return {[member](RunConfig& c, const json& v) { c.*member = v.get<T>(); },
          [member](const RunConfig& c) { return json(c.*member); }};
}
template <typename T>
FieldBinding field(std::optional<T> RunConfig::*member) {
  return {[member](RunConfig& c, const json& v) {
            if (v.is_null())
              (c.*member).reset();
            else
              c.*member = v.get<T>();
          },
          [member](const RunConfig& c) { return c.*member ? json(*(c.*member)) : json(nullptr); }};
}

std::vector<std::pair<FrontEnd, std::string>> python_search_only() {
  return {{FrontEnd::kBinary, "the rate search runs in Python: `infermeter run --find-rate`"},
          {FrontEnd::kPython, "call infermeter.find_rate(model, sla=...)"}};
}

// "cpu", "cuda" or "cuda:N".
bool is_device_text(const std::string& text) {
  if (text == "cpu" || text == "cuda") return true;
  constexpr std::string_view kCuda = "cuda:";
  return text.size() > kCuda.size() && text.starts_with(kCuda) &&
         std::all_of(text.begin() + kCuda.size(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<OptionSpec> build_table() {
  std::vector<OptionSpec> t;
  const auto add = [&t](OptionSpec spec) { t.push_back(std::move(spec)); };
  // Loads whose requests arrive on a schedule; the one that batches them.
  const auto is_open = [](const json& o) {
    const std::string load = o.value("load", "");
    return load == "open" || load == "dynamic-batching";
  };
  const auto is_batching = [](const json& o) { return o.value("load", "") == "dynamic-batching"; };
  const auto is_sizes = [](const std::string& text) {
    try {
      (void)parse_sizes("sizes", text);
      return true;
    } catch (const std::invalid_argument&) {
      return false;
    }
  };
  const auto has_ci = [](const json& o) { return given(o, "ci"); };

  // What runs the model.
  add({.name = "device", .type = OptionType::kText, .group = "model", .help = "cpu or cuda:N",
       .metavar = "DEV", .default_value = "cpu", .form = is_device_text, .form_text = "cpu or cuda:N",
       .field = field(&RunConfig::device)});
  add({.name = "runner", .type = OptionType::kChoice, .group = "model",
       .help = "what runs the model: torchscript (the interpreter), cuda-graph (each request replays a CUDA graph "
               "captured from the TorchScript forward), aoti (an AOTInductor .pt2 package) or aoti-graph (the "
               "package's run captured as a CUDA graph and replayed)",
       .metavar = "NAME", .default_value = "torchscript", .choices = runner_names,
       .sweep_axis = "runners", .field = field(&RunConfig::runner)});
  add({.name = "batch_size", .type = OptionType::kInt, .group = "model",
       .help = "inferences (items) per request", .metavar = "N", .nullable = true,
       .default_text = "1, or the batch the model was exported for when its graph is fixed to it", .min = 1,
       .max = 1 << 20, .bound_reason = "every worker's inputs are allocated before measuring",
       .sweep_axis = "batch_sizes", .sweep_default = 1, .field = field(&RunConfig::batch_size)});
  add({.name = "threads", .type = OptionType::kInt, .group = "model",
       .help = "concurrent client threads; with dynamic-batching, the model instances that take batches",
       .metavar = "N", .default_value = 1, .min = 1, .max = 1024,
       .bound_reason = "each holds a replica, a thread and about 2 MB of histograms", .sweep_axis = "threads",
       .field = field(&RunConfig::threads)});
  add({.name = "replicas", .type = OptionType::kChoice, .group = "model",
       .help = "per-thread (a copy of the weights per thread) or shared (one copy); per-thread-load loads each "
               "copy from the file, for runtimes that place each load on its own device (AWS Neuron)",
       .metavar = "MODE", .default_value = "per-thread",
       .choices = [] { return std::vector<std::string>{"per-thread", "shared", "per-thread-load"}; },
       .field = field(&RunConfig::replicas)});
  add({.name = "trust", .type = OptionType::kFlag, .group = "model",
       .help = "load an AOTInductor package that infermeter did not export, or whose native libraries changed "
               "since: a .pt2 holds native code that runs when it is loaded, so give this only for a package "
               "from a source you trust (TorchScript files hold no native code and need no trust)",
       .default_value = false, .field = field(&RunConfig::trust)});
  add({.name = "intra_op_threads", .type = OptionType::kInt, .group = "model",
       .help = "torch's intra-op threads per client thread", .metavar = "N", .nullable = true,
       .default_text = "cores / threads, at least 1", .min = 1, .max = 1024,
       .bound_reason = "each client thread starts a pool of this many threads",
       .field = field(&RunConfig::intra_op_threads)});

  // How requests arrive.
  add({.name = "load", .type = OptionType::kChoice, .group = "load",
       .help = "closed (each thread sends its next request when its last returns), open (requests arrive at "
               "--rate whatever the threads are doing; response time counts the wait for a free thread) or "
               "dynamic-batching (requests arrive at --rate and a batcher forms batches of up to --max-batch items "
               "for the threads, the model instances, as an inference server does)",
       .metavar = "KIND",
       .derived = [](const json& g) { return json(given(g, "rate") ? "open" : "closed"); },
       .default_text = "open when a rate is given, else closed", .choices = load_names,
       .field = field(&RunConfig::load)});
  add({.name = "rate", .type = OptionType::kFloat, .group = "load",
       .help = "open loop and dynamic batching: the mean arrival rate", .unit = "requests/s", .metavar = "PER_S", .nullable = true,
       .default_text = "none: a closed loop", .min = 0, .min_open = true, .max = 1e9,
       .bound_reason = "arrivals are drawn in advance", .sweep_axis = "rates", .applies = is_open,
       .field = field(&RunConfig::rate_per_s)});
  add({.name = "arrival", .type = OptionType::kChoice, .group = "load",
       .help = "arrivals on a schedule: poisson (seeded by --seed) or constant spacing", .metavar = "KIND",
       .default_value = "poisson",
       .choices = [] { return std::vector<std::string>{"poisson", "constant"}; }, .applies = is_open,
       .field = field(&RunConfig::arrival)});
  add({.name = "max_batch", .type = OptionType::kInt, .group = "load",
       .help = "dynamic batching: the most items a batch holds (Triton's max_batch_size)", .metavar = "N",
       .default_value = 8, .min = 1, .max = 1 << 14,
       .bound_reason = "every size up to it is computed once before measuring, from inputs allocated at it",
       .sweep_axis = "max_batches", .applies = is_batching, .field = field(&RunConfig::max_batch)});
  add({.name = "max_queue_delay", .type = OptionType::kFloat, .group = "load",
       .help = "dynamic batching: how long the oldest queued request may wait for its batch to fill before the "
               "batch goes as it is (Triton's max_queue_delay_microseconds)",
       .unit = "s", .metavar = "SECONDS", .default_value = 0.0, .min = 0, .max = kMaxSeconds,
       .bound_reason = kSecondsWhy, .sweep_axis = "max_queue_delays", .applies = is_batching,
       .field = field(&RunConfig::max_queue_delay_s)});
  add({.name = "preferred_batches", .type = OptionType::kText, .group = "load",
       .help = "dynamic batching: batch sizes (items) that go at once when the queue reaches them, e.g. 4,8 "
               "(Triton's preferred_batch_size)",
       .metavar = "SIZES", .default_value = "", .default_text = "none", .form = is_sizes,
       .form_text = "comma-separated sizes, e.g. 4,8", .applies = is_batching,
       .field = field(&RunConfig::preferred_batches)});
  add({.name = "capture_batches", .type = OptionType::kText, .group = "load",
       .help = "dynamic batching with a graph runner: the batch sizes captured as graphs; a batch is padded to "
               "the next one, and the padding is reported",
       .metavar = "SIZES", .default_value = "", .default_text = "powers of two below max_batch, and max_batch",
       .form = is_sizes, .form_text = "comma-separated sizes, e.g. 1,2,4,8", .applies = is_batching,
       .field = field(&RunConfig::capture_batches)});
  add({.name = "seed", .type = OptionType::kInt, .group = "load",
       .help = "seed for the generated inputs and the Poisson arrivals", .metavar = "N", .default_value = 0,
       .min = 0, .bound_reason = "an unsigned 64-bit seed", .field = field(&RunConfig::seed)});

  // When measuring starts and stops.
  add({.name = "warmup", .type = OptionType::kFloat, .group = "stop",
       .help = "warm-up time, excluded from the results", .unit = "s", .metavar = "SECONDS", .default_value = 1.0,
       .min = 0, .max = kMaxSeconds, .bound_reason = kSecondsWhy, .field = field(&RunConfig::warmup_s)});
  add({.name = "warmup_min_requests", .type = OptionType::kInt, .group = "stop",
       .help = "each thread also completes this many warm-up requests (none when the warm-up is 0)",
       .metavar = "N", .default_value = 2, .min = 0, .max = 1e9, .bound_reason = "a billion: no warm-up needs more",
       .field = field(&RunConfig::warmup_min_requests)});
  add({.name = "duration", .type = OptionType::kFloat, .group = "stop",
       .help = "measuring time; with --ci, the most it may take", .unit = "s", .metavar = "SECONDS",
       .nullable = true,
       .derived =
           [](const json& g) {
             if (given(g, "ci")) return json(kMaxCiDurationS);
             if (given(g, "requests")) return json(nullptr);
             return json(kFixedDurationS);
           },
       .default_text = "5; 60 with --ci; none when only --requests is given", .min = 0, .min_open = true,
       .max = kMaxSeconds, .bound_reason = kSecondsWhy, .field = field(&RunConfig::duration_s)});
  add({.name = "requests", .type = OptionType::kInt, .group = "stop", .help = "stop after this many measured requests",
       .metavar = "N", .nullable = true, .default_text = "none", .min = 1, .max = 1e15,
       .bound_reason = "far beyond any run", .field = field(&RunConfig::requests)});
  add({.name = "ci", .type = OptionType::kFloat, .group = "stop",
       .help = "stop once throughput and the --ci-percentile latency are both known to +-REL at 95% confidence "
               "(e.g. 0.02)",
       .metavar = "REL", .nullable = true, .default_text = "none: stop on duration or requests", .min = 0,
       .min_open = true, .max = 1, .max_open = true, .bound_reason = "a relative half width", .field = field(&RunConfig::ci)});
  add({.name = "ci_percentile", .type = OptionType::kFloat, .group = "stop",
       .help = "the latency percentile --ci must pin down", .metavar = "P", .default_value = 99.0, .min = 0,
       .min_open = true, .max = 100, .max_open = true, .bound_reason = "a percentile",
       .applies = has_ci, .field = field(&RunConfig::ci_percentile)});
  add({.name = "min_duration", .type = OptionType::kFloat, .group = "stop",
       .help = "with --ci: measure at least this long", .unit = "s", .metavar = "SECONDS", .default_value = 1.0,
       .min = 0, .max = kMaxSeconds, .bound_reason = kSecondsWhy, .applies = has_ci,
       .field = field(&RunConfig::min_duration_s)});
  add({.name = "window", .type = OptionType::kFloat, .group = "stop",
       .help = "width of the throughput-over-time windows", .unit = "s", .metavar = "SECONDS",
       .default_value = 0.1, .min = 0, .min_open = true, .max = kMaxSeconds, .bound_reason = kSecondsWhy,
       .field = field(&RunConfig::window_s)});

  // What the front ends do around the run.
  add({.name = "repeat", .type = OptionType::kInt, .group = "output",
       .help = "K independent measurements, each in a fresh process; reports the median-throughput run with every "
               "run's figures, and 95% intervals for the runs' mean (taking in how runs differ) instead of within one; "
               "in a rate search, K whole searches and the spread of their answers",
       .metavar = "K", .default_value = 1, .min = 1, .max = 1000, .bound_reason = "each repeat is a whole run"});
  add({.name = "calibrate", .type = OptionType::kFlag, .group = "output",
       .help = "measure the harness's own costs after the run", .default_value = true,
       .left_out = {{FrontEnd::kSweep, "points skip it: the harness's floor does not change from point to point; "
                                       "`infermeter run` measures it"}},
       .field = field(&RunConfig::calibrate)});
  add({.name = "json", .type = OptionType::kText, .group = "output",
       .help = "write the result document here (the schema the Python API reads)", .metavar = "PATH",
       .nullable = true, .default_text = "none",
       .left_out = {{FrontEnd::kPython, "benchmark() returns the Result: Result.save(path) writes it"},
                    {FrontEnd::kSweep, "a sweep writes every point to its results file"}}});
  add({.name = "hlog", .type = OptionType::kText, .group = "output",
       .help = "write the host latency histogram as an HdrHistogram interval log", .metavar = "PATH",
       .nullable = true, .default_text = "none",
       .left_out = {{FrontEnd::kPython, "Result.histogram is the HdrHistogram itself"},
                    {FrontEnd::kSweep, "a sweep's results hold every point's histograms"}}});
  add({.name = "trace", .type = OptionType::kText, .group = "output",
       .help = "write every measured request (due, dispatched, completed, batch, items, worker) here as JSON Lines",
       .metavar = "PATH", .nullable = true, .default_text = "none",
       .left_out = {{FrontEnd::kSweep, "a sweep's points would all write one file: measure the point with "
                                       "`infermeter run --trace`"}},
       .field = field(&RunConfig::trace)});
  add({.name = "load_library", .type = OptionType::kPaths, .group = "output",
       .help = "load a library of custom TorchScript operators first (repeatable), e.g. torch-neuron's "
               "libtorchneuron.so",
       .metavar = "PATH", .default_value = json::array()});

  // The highest rate meeting an SLA, searched step by step (find_rate.py).
  add({.name = "find_rate", .type = OptionType::kFlag, .group = "search",
       .help = "search the highest arrival rate (load open or dynamic-batching) whose response time meets --sla while "
               "keeping up",
       .default_value = false, .left_out = python_search_only()});
  add({.name = "sla", .type = OptionType::kText, .group = "search",
       .help = "the latency objective the search (and recommend) judges, e.g. p99<15ms", .metavar = "SLA",
       .nullable = true, .default_text = "none",
       .left_out = python_search_only()});
  add({.name = "rate_precision", .type = OptionType::kFloat, .group = "search",
       .help = "the search stops when its passing and failing rates are this close (relative)", .metavar = "REL",
       .default_value = 0.02, .min = 0, .min_open = true, .max = 1, .max_open = true, .bound_reason = "a relative gap",
       .left_out = python_search_only()});
  return t;
}

std::string known_names() {
  std::string out;
  for (const auto& o : option_table()) out += (out.empty() ? "" : ", ") + o.name;
  return out;
}

std::string choices_text(const OptionSpec& o) {
  std::string out;
  for (const auto& c : o.choices()) out += (out.empty() ? "" : ", ") + c;
  return out;
}

[[noreturn]] void refuse_type(const OptionSpec& o, const std::string& shown) {
  static const char* const kExpects[] = {"an integer", "a number", "text", "one of its choices", "true or false",
                                         "a list of paths"};
  std::string expects = kExpects[static_cast<int>(o.type)];
  if (o.type == OptionType::kChoice) expects = "one of " + choices_text(o);
  throw std::invalid_argument(o.name + " expects " + expects + ", got " + shown);
}

std::string shown_value(const json& v) { return v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump(); }

void check_bounds(const OptionSpec& o, double v, const std::string& shown) {
  const bool low = o.min && (o.min_open ? !(v > *o.min) : !(v >= *o.min));
  const bool high = o.max && (o.max_open ? !(v < *o.max) : !(v <= *o.max));
  if (!low && !high) return;
  std::string range = o.min ? std::string(o.min_open ? "> " : ">= ") + number_text(*o.min) : "";
  if (o.max) range += std::string(range.empty() ? "" : " and ") + (o.max_open ? "< " : "at most ") + number_text(*o.max);
  const std::string unit = o.unit.empty() ? "" : " " + o.unit;
  throw std::invalid_argument(o.name + " must be " + range + unit + " (" + o.bound_reason + "), got " + shown);
}

json checked(const OptionSpec& o, const json& v) {
  if (v.is_null()) {
    if (o.nullable) return v;
    throw std::invalid_argument(o.name + " must be given a value; it cannot be none");
  }
  switch (o.type) {
    case OptionType::kInt: {
      if (v.is_number_unsigned()) {
        const auto u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          if (o.max) check_bounds(o, static_cast<double>(u), v.dump());
          return v;
        }
        check_bounds(o, static_cast<double>(u), v.dump());
        return json(static_cast<int64_t>(u));
      }
      if (!v.is_number_integer()) refuse_type(o, shown_value(v));
      check_bounds(o, static_cast<double>(v.get<int64_t>()), v.dump());
      return v;
    }
    case OptionType::kFloat: {
      if (!v.is_number()) refuse_type(o, shown_value(v));
      const double d = v.get<double>();
      const std::string shown = std::isfinite(d) ? number_text(d) : (std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
      check_bounds(o, d, shown);  // non-finite values fail it, named with the range they must be in
      return json(d);
    }
    case OptionType::kText:
      if (!v.is_string()) refuse_type(o, shown_value(v));
      if (o.form && !o.form(v.get<std::string>()))
        throw std::invalid_argument(o.name + " must be " + o.form_text + ", got " + shown_value(v));
      return v;
    case OptionType::kChoice: {
      if (!v.is_string()) refuse_type(o, shown_value(v));
      for (const auto& c : o.choices())
        if (c == v.get<std::string>()) return v;
      throw std::invalid_argument(o.name + " must be one of " + choices_text(o) + ", got " + shown_value(v));
    }
    case OptionType::kFlag:
      if (!v.is_boolean()) refuse_type(o, shown_value(v));
      return v;
    case OptionType::kPaths: {
      if (v.is_string()) return json::array({v});
      if (!v.is_array()) refuse_type(o, shown_value(v));
      for (const auto& item : v)
        if (!item.is_string()) refuse_type(o, shown_value(v));
      return v;
    }
  }
  refuse_type(o, shown_value(v));
}

}  // namespace

std::string front_end_name(FrontEnd front) {
  switch (front) {
    case FrontEnd::kBinary: return "binary";
    case FrontEnd::kCli: return "cli";
    case FrontEnd::kSweep: return "sweep";
    case FrontEnd::kPython: return "python";
  }
  return "?";
}

bool OptionSpec::available_in(FrontEnd front) const {
  for (const auto& [f, why] : left_out)
    if (f == front) return false;
  return true;
}

std::string OptionSpec::flag() const {
  std::string dashed = name;
  for (auto& ch : dashed)
    if (ch == '_') ch = '-';
  const bool negated = type == OptionType::kFlag && default_value.is_boolean() && default_value.get<bool>();
  return (negated ? "--no-" : "--") + dashed;
}

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = build_table();
  return table;
}

const OptionSpec& option(const std::string& name) {
  for (const auto& o : option_table())
    if (o.name == name) return o;
  throw std::invalid_argument("unknown option '" + name + "' (known: " + known_names() + ")");
}

json parse_option_text(const std::string& name, const std::string& text) {
  const OptionSpec& o = option(name);
  const std::string shown = "'" + text + "'";
  size_t used = 0;
  bool finite = true;
  switch (o.type) {
    case OptionType::kInt:
      try {
        if (!text.empty() && text[0] == '-') {
          const long long v = std::stoll(text, &used);
          if (used == text.size()) return json(static_cast<int64_t>(v));
        } else {
          const unsigned long long v = std::stoull(text, &used);
          if (used == text.size()) return json(static_cast<uint64_t>(v));
        }
      } catch (const std::out_of_range&) {
        throw std::invalid_argument(o.name + " is out of range, got " + shown);
      } catch (const std::invalid_argument&) {
      }
      break;
    case OptionType::kFloat:
      try {
        const double v = std::stod(text, &used);
        if (used == text.size() && std::isfinite(v)) return json(v);
        // NaN or inf would reach Python as JSON's null ("not given"): --rate nan ran a closed loop.
        if (used == text.size()) finite = false;
      } catch (const std::out_of_range&) {
        throw std::invalid_argument(o.name + " is out of range, got " + shown);
      } catch (const std::invalid_argument&) {
      }
      if (!finite) {
        check_bounds(o, std::numeric_limits<double>::quiet_NaN(), shown);  // the range, where it has one
        throw std::invalid_argument(o.name + " must be a finite number, got " + shown);
      }
      break;
    case OptionType::kFlag:
      if (text == "true" || text == "false") return json(text == "true");
      break;
    case OptionType::kText:
    case OptionType::kChoice:
      return json(text);
    case OptionType::kPaths:
      return json::array({text});
  }
  refuse_type(o, shown);
}

json check_option_value(const std::string& name, const json& value) { return checked(option(name), value); }

json normalise_options(const json& given) {
  if (!given.is_object()) throw std::invalid_argument("options must be given as a mapping of name to value");
  json out = json::object();
  for (const auto& [name, value] : given.items()) out[name] = checked(option(name), value);
  for (const auto& o : option_table()) {
    if (out.contains(o.name)) continue;
    out[o.name] = o.derived ? o.derived(out) : o.default_value;
  }
  // Each repeat would write the file over the last one's.
  if (out.at("repeat").get<int64_t>() > 1 && !out.at("trace").is_null())
    throw std::invalid_argument("trace writes one run's requests: leave it out with repeat");
  validate(run_config_from(out, "(options)"));
  return out;
}

RunConfig run_config_from(const json& options, const std::string& model_path, std::vector<ExplicitInput> inputs) {
  RunConfig c;
  c.model_path = model_path;
  for (const auto& o : option_table()) {
    if (!o.field) continue;
    if (!options.contains(o.name))
      throw std::invalid_argument("option '" + o.name + "' is missing: options must be normalised first");
    o.field.set(c, options.at(o.name));
  }
  c.inputs = std::move(inputs);
  return c;
}

json options_for_result(const RunConfig& config) {
  json options = json::object();
  for (const auto& o : option_table())
    if (o.field) options[o.name] = o.field.get(config);
  json out = json::object();
  for (const auto& o : option_table()) {
    if (!o.field) continue;
    const std::string key = o.unit == "s" ? o.name + "_s" : o.unit == "requests/s" ? o.name + "_per_s" : o.name;
    out[key] = !o.applies || o.applies(options) ? options.at(o.name) : json(nullptr);
  }
  return out;
}

json describe_option_table() {
  json out = json::array();
  for (const auto& o : option_table()) {
    json left = json::object();
    for (const auto& [front, why] : o.left_out) left[front_end_name(front)] = why;
    static const char* const kTypes[] = {"int", "float", "text", "choice", "flag", "paths"};
    out.push_back({{"name", o.name},
                   {"flag", o.flag()},
                   {"type", kTypes[static_cast<int>(o.type)]},
                   {"group", o.group},
                   {"help", o.help},
                   {"unit", o.unit},
                   {"metavar", o.metavar},
                   {"nullable", o.nullable},
                   {"default", o.default_value},
                   {"default_text", o.default_text},
                   {"choices", o.choices ? json(o.choices()) : json(nullptr)},
                   {"min", o.min ? json(*o.min) : json(nullptr)},
                   {"max", o.max ? json(*o.max) : json(nullptr)},
                   {"min_open", o.min_open},
                   {"max_open", o.max_open},
                   {"bound_reason", o.bound_reason},
                   {"left_out", left},
                   {"sweep_axis", o.sweep_axis.empty() ? json(nullptr) : json(o.sweep_axis)},
                   {"sweep_default", o.sweep_default},
                   {"run_option", static_cast<bool>(o.field)}});
  }
  return out;
}

std::string option_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return number_text(value.get<double>());
  return value.dump();
}

}  // namespace infermeter
