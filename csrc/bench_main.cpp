// infermeter-bench: the engine with no Python in the process. Its flags are
// the option table's (options.h), so they are the other front ends' options
// under the same names, defaults and errors.
#include <dlfcn.h>

#include <csignal>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "fresh_processes.h"
#include "infermeter/engine.h"
#include "infermeter/errors.h"
#include "infermeter/options.h"
#include "interval_log.h"
#include "output_paths.h"
#include "reporters.h"
#include "result_builder.h"

using namespace infermeter;
using nlohmann::json;

namespace {

volatile std::sig_atomic_t interrupted = 0;

void on_signal(int) { interrupted = 1; }

// Options a repeat's fresh process is not given: the parent writes the outputs.
const char* const kParentOnly[] = {"repeat", "json", "hlog"};

struct CommandLine {
  std::string model;
  json given = json::object();  // option name -> value, as the flags gave them
};

// `text` in lines of at most kWidth columns, every line after the first
// indented to `indent`.
constexpr size_t kWidth = 110;
std::string wrapped(const std::string& text, size_t indent) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && indent + line.size() + 1 + word.size() > kWidth) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  return out + line;
}

std::string usage() {
  std::string text =
      "usage: infermeter-bench MODEL [options]\n\n"
      "Measures a model exported by infermeter (a TorchScript .pt or an AOTInductor .pt2; its input spec\n"
      "is stored in the file) with native client threads, in a closed loop or, with --rate, an open one.\n";
  std::map<std::string, std::string> groups;
  std::vector<std::string> order;
  for (const auto& o : option_table()) {
    if (!o.available_in(FrontEnd::kBinary)) continue;
    if (!groups.count(o.group)) order.push_back(o.group);
    constexpr size_t kIndent = 30;
    std::string left = "  " + o.flag() + (o.type == OptionType::kFlag ? "" : " " + o.metavar);
    left.resize(std::max<size_t>(left.size() + 2, kIndent), ' ');
    std::string help = o.help;
    if (o.type == OptionType::kChoice) {
      std::string choices;
      for (const auto& c : o.choices()) choices += (choices.empty() ? "" : ", ") + c;
      help += " {" + choices + "}";
    }
    if (!o.unit.empty()) help += ", " + o.unit;
    if (o.flag().rfind("--no-", 0) == 0)
      help += " (on unless this is given)";
    else if (!o.default_text.empty())
      help += " (default " + o.default_text + ")";
    else if (o.type != OptionType::kFlag && !o.default_value.is_null() && !o.default_value.is_array())
      help += " (default " + option_text(o.default_value) + ")";
    groups[o.group] += left + wrapped(help, std::max(kIndent, left.size())) + "\n";
  }
  for (const auto& g : order) text += "\n" + g + ":\n" + groups[g];
  return text + "\n  -h, --help                  show this help\n";
}

// One line, as every other error: the whole usage would bury it.
[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "infermeter-bench: " << message << " (infermeter-bench --help lists the options)\n";
  std::exit(2);
}

const OptionSpec* by_flag(const std::string& flag) {
  for (const auto& o : option_table())
    if (o.available_in(FrontEnd::kBinary) && o.flag() == flag) return &o;
  return nullptr;
}

CommandLine parse(int argc, char** argv) {
  CommandLine line;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << usage();
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      if (!line.model.empty()) usage_error("more than one model given ('" + arg + "')");
      line.model = arg;
      continue;
    }
    const OptionSpec* o = by_flag(arg);
    if (!o) usage_error("unknown option " + arg);
    try {
      if (o->type == OptionType::kFlag) {
        line.given[o->name] = arg.rfind("--no-", 0) != 0;
        continue;
      }
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      const json value = parse_option_text(o->name, argv[++i]);
      if (o->type == OptionType::kPaths) {
        if (!line.given.contains(o->name)) line.given[o->name] = json::array();
        for (const auto& path : value) line.given[o->name].push_back(path);
      } else {
        line.given[o->name] = value;
      }
    } catch (const std::invalid_argument& e) {
      usage_error(e.what());
    }
  }
  if (line.model.empty()) usage_error("no model given");
  return line;
}

// A repeat's flags: every option given but the parent's own outputs.
std::vector<std::string> child_args(const CommandLine& line) {
  std::vector<std::string> args = {line.model};
  for (const auto& [name, value] : line.given.items()) {
    if (std::find(std::begin(kParentOnly), std::end(kParentOnly), name) != std::end(kParentOnly)) continue;
    const OptionSpec& o = option(name);
    if (o.type == OptionType::kFlag) {
      if (value.get<bool>() != o.default_value.get<bool>()) args.push_back(o.flag());
    } else if (o.type == OptionType::kPaths) {
      for (const auto& path : value) args.insert(args.end(), {o.flag(), path.get<std::string>()});
    } else if (!value.is_null()) {
      args.insert(args.end(), {o.flag(), option_text(value)});
    }
  }
  return args;
}

// Operator libraries register their kernels when loaded; RTLD_GLOBAL lets
// later libraries resolve against them.
void load_libraries(const json& paths) {
  for (const auto& entry : paths) {
    const auto path = entry.get<std::string>();
    if (!dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      const char* why = dlerror();
      throw std::invalid_argument("cannot load operator library '" + path + "': " + (why ? why : "unknown error"));
    }
  }
}

std::string optional_text(const json& options, const char* name) {
  return options.at(name).is_null() ? "" : options.at(name).get<std::string>();
}

// Every output asked for, console first.
void report(const json& result, const json& options) {
  ConsoleReporter(std::cout).report(result);
  if (const auto path = optional_text(options, "json"); !path.empty()) JsonFileReporter(path).report(result);
}

// --repeat K: K fresh processes of this binary, as one document (repeats.h).
int run_repeated(const CommandLine& line, const json& options) {
  auto runs = run_in_fresh_processes(child_args(line), options.at("repeat").get<int>(), interrupted);
  if (runs.empty()) {
    std::cerr << "infermeter-bench: interrupted before the first repeat finished\n";
    return 130;
  }
  report(combine_repeats(runs, kBackToBack), options);
  const bool stopped = interrupted || static_cast<int>(runs.size()) < options.at("repeat").get<int>();
  return stopped ? 130 : 0;
}

int run(const CommandLine& line) {
  const json options = normalise_options(line.given);
  const std::string hlog = optional_text(options, "hlog");
  if (options.at("repeat").get<int>() > 1 && !hlog.empty())
    throw std::invalid_argument("hlog writes one run's histogram: leave it out with repeat");
  // Outputs are checked before anything is measured, so that no run is lost to an unwritable path.
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const char* name : {"json", "hlog", "trace"})
    if (!options.at(name).is_null()) outputs.emplace_back(name, options.at(name).get<std::string>());
  std::vector<std::string> inputs{line.model};
  for (const auto& library : options.at("load_library")) inputs.push_back(library.get<std::string>());
  check_output_paths(outputs, inputs);
  if (options.at("repeat").get<int>() > 1) return run_repeated(line, options);
  load_libraries(options.at("load_library"));
  const RunConfig config = run_config_from(options, line.model);
  // Progress on stderr (stdout carries the result): warm-up is over.
  const auto on_measuring = [] {
    std::cerr << "infermeter-bench: measuring (Ctrl-C stops and keeps what was measured)" << std::endl;
  };
  const json result =
      measure(config, [] { return interrupted != 0; }, {{"front_end", "infermeter-bench"}}, on_measuring);
  report(result, options);
  if (!hlog.empty()) write_interval_log(hlog, result);
  return interrupted ? 130 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const CommandLine line = parse(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Past a file-size limit the kernel sends SIGXFSZ, which kills the process
  // with the result unwritten; ignored, the write fails with EFBIG and says so
  // (as Python does).
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return run(line);
  } catch (const std::invalid_argument& e) {
    std::cerr << "infermeter-bench: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "infermeter-bench: " << e.what() << "\n";
    return 1;
  }
}
