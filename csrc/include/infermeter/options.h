// Public: the one table of run options. Every front end (infermeter-bench's
// flags, `infermeter run`, sweep configs, benchmark(**options)) is built from
// it, so an option has one name, type, default, unit, range, help text and
// error everywhere, and adding one is an entry here plus its use.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "infermeter/run_config.h"

namespace infermeter {

enum class OptionType {
  kInt,     // a whole number (int64; the seed: uint64)
  kFloat,   // a finite number
  kText,    // any text (a device, a path, an SLA)
  kChoice,  // one of `choices()`
  kFlag,    // true or false; on the command line --name (default false) or --no-name (default true)
  kPaths,   // a list of paths; on the command line a repeatable flag
};

// Where options are given. A front end may leave an option out only by a
// declared rule (OptionSpec::left_out), never by omission.
enum class FrontEnd { kBinary, kCli, kSweep, kPython };

std::string front_end_name(FrontEnd front);

// How an option reaches the engine: its RunConfig field, set and read.
struct FieldBinding {
  std::function<void(RunConfig&, const nlohmann::json& value)> set;
  std::function<nlohmann::json(const RunConfig&)> get;
  explicit operator bool() const { return static_cast<bool>(set); }
};

struct OptionSpec {
  std::string name;  // benchmark()'s keyword, the sweep key, --name-with-dashes on the command line
  OptionType type;
  std::string group;  // load, stop, model, output, ...: help sections
  std::string help;
  std::string unit;      // "s", "requests/s" or empty
  std::string metavar;   // the value's placeholder in help texts
  bool nullable = false;  // may be unset (None in Python): "not given" and "none" differ for it
  // The default when not given. Null: unset, unless `derived` computes it
  // from the other options given (the duration from the stop asked for).
  nlohmann::json default_value;
  std::function<nlohmann::json(const nlohmann::json& given)> derived;
  std::string default_text;  // how help states a derived or unset default
  std::function<std::vector<std::string>()> choices;  // kChoice
  // kText: whether the text has the form it must, and that form in words.
  // Code, not a regex: std::regex crashed in a Python process whose extension
  // was built with a compiler that links libstdc++ statically (docs/aoti.md).
  std::function<bool(const std::string&)> form;
  std::string form_text;
  // Bounds, inclusive unless open; with why they exist.
  std::optional<double> min;
  bool min_open = false;
  std::optional<double> max;
  bool max_open = false;
  std::string bound_reason;
  // The front ends that leave it out, and why.
  std::vector<std::pair<FrontEnd, std::string>> left_out;
  // In sweeps, the key of the axis that lists its values (batch_sizes: [1, 8]); empty: one value, under `name`.
  std::string sweep_axis;
  // A sweep's own default for the axis, where the option's is unset but every
  // point needs a value (a sweep exports each point at its batch); null: the
  // option's default.
  nlohmann::json sweep_default;
  // Whether it shapes a run with these options (the arrival process only an
  // open loop's); the result's config states it as null when not. Empty: always.
  std::function<bool(const nlohmann::json& options)> applies;
  // The engine's RunConfig field; empty for options the front ends act on
  // themselves (repeat, json, the rate search).
  FieldBinding field;

  bool available_in(FrontEnd front) const;
  // "--batch-size", or "--no-calibrate" for a flag that defaults to true.
  std::string flag() const;
};

// Every option, in the order help texts list them.
const std::vector<OptionSpec>& option_table();

// The option of that name; std::invalid_argument naming the known ones otherwise.
const OptionSpec& option(const std::string& name);

// A value given as text (a command-line flag's) as the option's typed value,
// not yet checked against its choices and bounds (normalise_options does);
// std::invalid_argument naming the option and the text when it is not of
// the option's type.
nlohmann::json parse_option_text(const std::string& name, const std::string& text);

// A typed value (from Python or YAML) checked against the option's type,
// choices and bounds, in canonical form (whole numbers as integers).
nlohmann::json check_option_value(const std::string& name, const nlohmann::json& value);

// The one normalise step: every option, given (checked) or defaulted (the
// derived ones from what was given), then validated as a whole. `given` is
// an object of name -> value; an unknown name is std::invalid_argument.
nlohmann::json normalise_options(const nlohmann::json& given);

// The engine's config for `model_path` from normalised options.
RunConfig run_config_from(const nlohmann::json& options, const std::string& model_path,
                          std::vector<ExplicitInput> inputs = {});

// The engine's options as the result document's "config" states them: under
// their result keys (warmup_s, rate_per_s: the unit names the key), null
// where they do not apply.
nlohmann::json options_for_result(const RunConfig& config);

// The table as data, for front ends built in other languages (Python): per
// option its name, flag, type, group, help, unit, metavar, nullable, default,
// default_text, choices, min, max, min_open, bound_reason, left_out
// {front: why}, sweep_axis, sweep_default and whether the engine reads it
// (run_option).
nlohmann::json describe_option_table();

// The value as a command line gives it (for the binary's fresh processes).
std::string option_text(const nlohmann::json& value);

}  // namespace infermeter
