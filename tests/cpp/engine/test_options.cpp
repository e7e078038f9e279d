// The option table and its normalise step (infermeter/options.h,
// csrc/options.cpp), and the rules that tie options together
// (infermeter/run_config.h, csrc/run_config.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

#include "test_support.h"
#include "infermeter/options.h"
#include "infermeter/run_config.h"

using namespace infermeter;
using namespace infermeter::testing;
using nlohmann::json;

namespace {

std::string value_error(const std::string& name, const json& value) {
  return invalid_argument_of([&] { check_option_value(name, value); });
}

std::string normalise_error(const json& given) {
  return invalid_argument_of([&] { normalise_options(given); });
}

}  // namespace

// --------------------------------------------------------------- the table

TEST_CASE("option table: names and flags are unique, and option() finds each by name") {
  const auto& table = option_table();
  REQUIRE(table.size() > 10);
  std::set<std::string> names, flags;
  for (const auto& o : table) {
    CAPTURE(o.name);
    CHECK(names.insert(o.name).second);
    CHECK(flags.insert(o.flag()).second);
    CHECK(&option(o.name) == &o);
    CHECK_FALSE(o.help.empty());
    CHECK_FALSE(o.group.empty());
    if (o.type == OptionType::kChoice) CHECK(static_cast<bool>(o.choices));
    if (o.min || o.max) CHECK_FALSE(o.bound_reason.empty());  // every bound says why it exists
  }
  CHECK(names.size() == table.size());
  for (const char* name : {"device", "runner", "batch_size", "threads", "load", "rate", "arrival", "seed", "warmup",
                           "duration", "requests", "ci", "ci_percentile", "min_duration", "window", "repeat"})
    CHECK(names.count(name) == 1);
}

TEST_CASE("option table: flags are dashed, and a flag that defaults to true is negated") {
  CHECK(option("batch_size").flag() == "--batch-size");
  CHECK(option("ci_percentile").flag() == "--ci-percentile");
  CHECK(option("calibrate").flag() == "--no-calibrate");  // default true
  CHECK(option("find_rate").flag() == "--find-rate");     // default false
}

TEST_CASE("option(): an unknown name is refused, naming the known ones") {
  const std::string why = invalid_argument_of([] { option("bogus"); });
  CHECK(contains(why, "unknown option 'bogus' (known: device, runner, batch_size, threads"));
  CHECK(contains(why, "duration"));
}

// ------------------------------------------------------- check_option_value

TEST_CASE("check_option_value: values out of range are refused, naming the option, its range and why") {
  CHECK(value_error("threads", 0) ==
        "threads must be >= 1 and at most 1024 (each holds a replica, a thread and about 2 MB of histograms), got 0");
  CHECK(value_error("threads", 1025) ==
        "threads must be >= 1 and at most 1024 (each holds a replica, a thread and about 2 MB of histograms), got 1025");
  CHECK(value_error("rate", 0.0) ==
        "rate must be > 0 and at most 1000000000 requests/s (arrivals are drawn in advance), got 0");
  CHECK(value_error("rate", -5.5) ==
        "rate must be > 0 and at most 1000000000 requests/s (arrivals are drawn in advance), got -5.5");
  CHECK(value_error("ci", 1.0) == "ci must be > 0 and < 1 (a relative half width), got 1");
  CHECK(value_error("ci", 0.0) == "ci must be > 0 and < 1 (a relative half width), got 0");
  CHECK(value_error("ci_percentile", 100.0) == "ci_percentile must be > 0 and < 100 (a percentile), got 100");
  CHECK(value_error("seed", -1) == "seed must be >= 0 (an unsigned 64-bit seed), got -1");
  CHECK(value_error("requests", 0) == "requests must be >= 1 and at most 1e+15 (far beyond any run), got 0");
  CHECK(value_error("batch_size", (1 << 20) + 1) ==
        "batch_size must be >= 1 and at most 1048576 (every worker's inputs are allocated before measuring), got "
        "1048577");
  const std::string day = " s (a day: far beyond any measurement, well inside the clock's int64 nanoseconds), got ";
  CHECK(value_error("duration", 86401.0) == "duration must be > 0 and at most 86400" + day + "86401");
  CHECK(value_error("duration", std::numeric_limits<double>::infinity()) ==
        "duration must be > 0 and at most 86400" + day + "inf");
  CHECK(value_error("warmup", std::nan("")) == "warmup must be >= 0 and at most 86400" + day + "nan");
  CHECK(value_error("warmup", -0.5) == "warmup must be >= 0 and at most 86400" + day + "-0.5");
  CHECK(value_error("window", 0.0) == "window must be > 0 and at most 86400" + day + "0");
  // An unsigned value beyond int64 is still held to the option's maximum.
  CHECK(contains(value_error("threads", std::numeric_limits<uint64_t>::max()), "threads must be >= 1 and at most 1024"));
}

TEST_CASE("check_option_value: the bounds themselves are allowed, inclusive or open as declared") {
  CHECK(check_option_value("threads", 1) == 1);
  CHECK(check_option_value("threads", 1024) == 1024);
  CHECK(check_option_value("rate", 1e9) == 1e9);
  CHECK(check_option_value("warmup", 0.0) == 0.0);
  CHECK(check_option_value("duration", 86400.0) == 86400.0);
  CHECK(check_option_value("ci", 0.999) == 0.999);
  CHECK(check_option_value("ci_percentile", 99.99) == 99.99);
  CHECK(check_option_value("requests", 1) == 1);
}

TEST_CASE("check_option_value: wrong types, choices, patterns and none are refused by name") {
  CHECK(value_error("threads", "4") == "threads expects an integer, got '4'");
  CHECK(value_error("threads", 2.5) == "threads expects an integer, got 2.5");
  CHECK(value_error("duration", "5") == "duration expects a number, got '5'");
  CHECK(value_error("calibrate", 1) == "calibrate expects true or false, got 1");
  CHECK(value_error("load", 3) == "load expects one of closed, open, dynamic-batching, got 3");
  CHECK(value_error("load", "half-open") == "load must be one of closed, open, dynamic-batching, got 'half-open'");
  CHECK(value_error("arrival", "uniform") == "arrival must be one of poisson, constant, got 'uniform'");
  CHECK(value_error("replicas", "one") == "replicas must be one of per-thread, shared, per-thread-load, got 'one'");
  CHECK(value_error("device", "gpu") == "device must be cpu or cuda:N, got 'gpu'");
  CHECK(value_error("device", "cuda:x") == "device must be cpu or cuda:N, got 'cuda:x'");
  CHECK(value_error("threads", nullptr) == "threads must be given a value; it cannot be none");
  CHECK(value_error("load_library", json::array({"a.so", 3})) == "load_library expects a list of paths, got [\"a.so\",3]");
  CHECK_THROWS_AS(check_option_value("bogus", 1), std::invalid_argument);
}

TEST_CASE("check_option_value: canonical forms") {
  CHECK(check_option_value("duration", nullptr).is_null());  // nullable
  const json d = check_option_value("duration", 2);          // a whole number for a float option
  CHECK(d.is_number_float());
  CHECK(d == 2.0);
  const json t = check_option_value("threads", 4u);  // unsigned as a signed integer
  CHECK(t.is_number_integer());
  CHECK_FALSE(t.is_number_unsigned());
  CHECK(t == 4);
  const json big_seed = check_option_value("seed", std::numeric_limits<uint64_t>::max());
  CHECK(big_seed.get<uint64_t>() == std::numeric_limits<uint64_t>::max());
  CHECK(check_option_value("load_library", "a.so") == json::array({"a.so"}));
  CHECK(check_option_value("device", "cuda:1") == "cuda:1");
  CHECK(check_option_value("device", "cuda") == "cuda");
}

TEST_CASE("parse_option_text: text as the option's type, refusing what is not") {
  CHECK(parse_option_text("threads", "4") == 4);
  CHECK(parse_option_text("seed", "-1") == -1);  // parsed; the range is normalise's to check
  CHECK(parse_option_text("duration", "2.5") == 2.5);
  CHECK(parse_option_text("calibrate", "false") == false);
  CHECK(parse_option_text("load", "open") == "open");
  CHECK(parse_option_text("load_library", "x.so") == json::array({"x.so"}));
  CHECK(invalid_argument_of([] { parse_option_text("threads", "four"); }) == "threads expects an integer, got 'four'");
  CHECK(invalid_argument_of([] { parse_option_text("threads", "4x"); }) == "threads expects an integer, got '4x'");
  CHECK(invalid_argument_of([] { parse_option_text("duration", "soon"); }) == "duration expects a number, got 'soon'");
  CHECK(invalid_argument_of([] { parse_option_text("calibrate", "yes"); }) == "calibrate expects true or false, got 'yes'");
  CHECK(invalid_argument_of([] { parse_option_text("threads", "99999999999999999999999"); }) ==
        "threads is out of range, got '99999999999999999999999'");
}

// --------------------------------------------------------- normalise_options

TEST_CASE("normalise_options: every option, defaulted; the duration 5 s alone") {
  const json o = normalise_options(json::object());
  CHECK(o.size() == option_table().size());
  CHECK(o["duration"] == 5.0);
  CHECK(o["duration"] == kFixedDurationS);
  CHECK(o["requests"].is_null());
  CHECK(o["ci"].is_null());
  CHECK(o["load"] == "closed");
  CHECK(o["rate"].is_null());
  CHECK(o["arrival"] == "poisson");
  CHECK(o["device"] == "cpu");
  CHECK(o["runner"] == "torchscript");
  CHECK(o["threads"] == 1);
  CHECK(o["batch_size"].is_null());
  CHECK(o["warmup"] == 1.0);
  CHECK(o["warmup_min_requests"] == 2);
  CHECK(o["ci_percentile"] == 99.0);
  CHECK(o["min_duration"] == 1.0);
  CHECK(o["window"] == 0.1);
  CHECK(o["repeat"] == 1);
  CHECK(o["calibrate"] == true);
  CHECK(o["load_library"] == json::array());
}

TEST_CASE("normalise_options: derived defaults follow what was given") {
  CHECK(normalise_options({{"ci", 0.02}})["duration"] == 60.0);  // ci: the duration is its maximum
  CHECK(normalise_options({{"ci", 0.02}})["duration"] == kMaxCiDurationS);
  CHECK(normalise_options({{"requests", 100}})["duration"].is_null());  // requests alone: no duration
  CHECK(normalise_options({{"requests", 100}, {"ci", 0.05}})["duration"] == 60.0);
  CHECK(normalise_options({{"duration", 2}})["duration"] == 2.0);  // given wins
  CHECK(normalise_options({{"duration", 2.0}, {"requests", 10}})["duration"] == 2.0);
  CHECK(normalise_options({{"ci", nullptr}})["duration"] == 5.0);  // none given is not given
  CHECK(normalise_options({{"rate", 100.0}})["load"] == "open");   // a rate: an open loop
  CHECK(normalise_options({{"rate", nullptr}})["load"] == "closed");
  CHECK(normalise_options({{"load", "open"}, {"rate", 10.0}})["load"] == "open");
  // Given values come back checked, in canonical form.
  CHECK(normalise_options({{"threads", 4u}})["threads"].is_number_integer());
  CHECK(normalise_options({{"warmup", 0}})["warmup"].is_number_float());
}

TEST_CASE("normalise_options: unknown names, a non-mapping and bad values are refused") {
  CHECK(contains(normalise_error({{"bogus", 1}}), "unknown option 'bogus'"));
  CHECK(normalise_error(json::array({1, 2})) == "options must be given as a mapping of name to value");
  CHECK(normalise_error({{"threads", 0}}) ==
        "threads must be >= 1 and at most 1024 (each holds a replica, a thread and about 2 MB of histograms), got 0");
}

TEST_CASE("run_config_from: the normalised options in the engine's fields") {
  const RunConfig c =
      config_from({{"threads", 3}, {"duration", 2.5}, {"seed", 7}, {"rate", 50.0}, {"arrival", "constant"},
                   {"requests", 40}, {"window", 0.25}, {"batch_size", 8}});
  CHECK(c.model_path == "model.pt");
  CHECK(c.threads == 3);
  CHECK(c.duration_s == 2.5);
  CHECK(c.requests == 40);
  CHECK(c.seed == 7);
  CHECK(c.load == "open");
  CHECK(c.rate_per_s == 50.0);
  CHECK(c.arrival == "constant");
  CHECK(c.window_s == 0.25);
  CHECK(c.batch_size == 8);
  CHECK_FALSE(c.ci.has_value());
  CHECK_FALSE(c.intra_op_threads.has_value());
  CHECK(c.calibrate);
  CHECK(arrival_horizon_ns(c) == 2'500'000'000);
  CHECK(window_count(c) == static_cast<size_t>(std::ceil((2.5 + 60.0) / 0.25)) + 1);  // the run plus a minute
  CHECK(intra_op_threads_for(config_from({{"intra_op_threads", 3}})) == 3);

  const RunConfig requests_only = config_from({{"requests", 10}});
  CHECK(arrival_horizon_ns(requests_only) == 3'600'000'000'000);  // an hour
  CHECK(window_count(requests_only) == 36001);

  json missing = normalise_options(json::object());
  missing.erase("device");
  CHECK(invalid_argument_of([&] { run_config_from(missing, "m.pt"); }) ==
        "option 'device' is missing: options must be normalised first");
}

TEST_CASE("options_for_result: unit-named keys, null where an option does not apply") {
  const json closed = options_for_result(config_from(json::object()));
  CHECK(closed["duration_s"] == 5.0);
  CHECK(closed["warmup_s"] == 1.0);
  CHECK(closed["rate_per_s"].is_null());
  CHECK(closed["arrival"].is_null());        // open loop only
  CHECK(closed["ci_percentile"].is_null());  // ci only
  CHECK(closed["min_duration_s"].is_null());
  CHECK_FALSE(closed.contains("duration"));
  CHECK_FALSE(closed.contains("repeat"));  // not an engine option

  const json open_ci = options_for_result(config_from({{"rate", 20.0}, {"ci", 0.05}}));
  CHECK(open_ci["rate_per_s"] == 20.0);
  CHECK(open_ci["arrival"] == "poisson");
  CHECK(open_ci["ci"] == 0.05);
  CHECK(open_ci["ci_percentile"] == 99.0);
  CHECK(open_ci["min_duration_s"] == 1.0);
  CHECK(open_ci["duration_s"] == 60.0);
}

// ------------------------------------------------------------------ validate

TEST_CASE("validate: a run must end: neither duration nor requests is refused") {
  const std::string why = normalise_error({{"duration", nullptr}});
  CHECK(why == "give a duration, a request count, or both, so that the run ends");
  RunConfig c = config_from(json::object());
  c.duration_s.reset();
  CHECK_THROWS_WITH_AS(validate(c), "give a duration, a request count, or both, so that the run ends",
                       std::invalid_argument);
  c.requests = 5;
  CHECK_NOTHROW(validate(c));
}

TEST_CASE("validate: a rate with a closed loop, or an open loop with no rate, names both options") {
  const std::string closed = normalise_error({{"load", "closed"}, {"rate", 100.0}});
  CHECK(closed == "rate is an open-loop arrival rate: it needs load open (the default when a rate is given)");
  CHECK(contains(closed, "rate"));
  CHECK(contains(closed, "load"));
  const std::string open = normalise_error({{"load", "open"}});
  CHECK(open == "load open needs a rate: the mean arrival rate, requests/s");
}

TEST_CASE("validate: ci needs a duration, a minimum within it, and room for throughput's windows") {
  CHECK(normalise_error({{"ci", 0.02}, {"duration", nullptr}, {"requests", 100}}) ==
        "ci needs a duration: the most the run may take");
  const std::string min = normalise_error({{"ci", 0.02}, {"duration", 5.0}, {"min_duration", 10.0}});
  CHECK(min == "min_duration must be between 0 and the duration (the maximum), got 10.000000");
  CHECK(contains(min, "min_duration"));
  CHECK(contains(min, "the duration"));
  // The same minimum without ci does not matter (it only applies to ci).
  CHECK_NOTHROW(normalise_options({{"duration", 5.0}, {"min_duration", 10.0}}));
  CHECK_NOTHROW(normalise_options({{"ci", 0.02}, {"duration", 5.0}, {"min_duration", 5.0}}));

  // kMinRateWindows + 1 = 6 windows of 0.1 s: 0.6 s at least.
  // (The default 1 s minimum would be refused first: it is above the duration.)
  CHECK(contains(normalise_error({{"ci", 0.02}, {"duration", 0.5}}), "min_duration must be between 0 and the duration"));
  CHECK(normalise_error({{"ci", 0.02}, {"duration", 0.5}, {"min_duration", 0.1}}) ==
        "ci needs a duration of at least 0.600000 s (6 windows of 0.100000 s) to estimate throughput's interval, got "
        "0.500000");
  CHECK_NOTHROW(normalise_options({{"ci", 0.02}, {"duration", 0.7}, {"min_duration", 0.5}}));
  CHECK_NOTHROW(normalise_options({{"ci", 0.02}, {"duration", 1.0}, {"window", 0.1}}));
}

TEST_CASE("validate: ci with exactly the minimum duration (6 windows) is accepted (see report)") {
  // Engine defect: 6 * 0.1 is 0.6000000000000001 in floating point, so a
  // duration of exactly 0.6 s is refused with "needs at least 0.600000 s ...,
  // got 0.600000"; likewise 1.2 s with 0.2 s windows.
  CHECK_NOTHROW(normalise_options({{"ci", 0.02}, {"duration", 0.6}, {"min_duration", 0.5}}));
  CHECK_NOTHROW(normalise_options({{"ci", 0.02}, {"duration", 1.2}, {"window", 0.2}, {"min_duration", 0.5}}));
}

TEST_CASE("validate: a window too small for the run's length names the window and the smallest it may be") {
  // Duration 100 s plus a minute for stragglers: 160 s, at most 1e6 windows.
  CHECK(normalise_error({{"window", 1e-5}, {"duration", 100.0}}) ==
        "window 0.000010 s is too small for a run of up to 160.000000 s (at most 1e6 windows; use a window of at "
        "least 0.000160 s)");
  // Only a request count: the run may last an hour.
  CHECK(contains(normalise_error({{"window", 1e-3}, {"requests", 10}}), "too small for a run of up to 3600.000000 s"));
  CHECK_NOTHROW(normalise_options({{"window", 2e-4}, {"duration", 100.0}}));
}

TEST_CASE("validate: CUDA devices take at most 32 threads; the CPU more") {
  CHECK(normalise_error({{"device", "cuda:0"}, {"threads", 33}}) ==
        "threads must be at most 32 on a CUDA device (one stream each from c10's pool), got 33");
  CHECK(contains(normalise_error({{"device", "cuda"}, {"threads", 64}}), "on a CUDA device"));
  CHECK_NOTHROW(normalise_options({{"device", "cuda:0"}, {"threads", 32}}));
  CHECK_NOTHROW(normalise_options({{"device", "cpu"}, {"threads", 33}}));
}

TEST_CASE("validate: an open loop may not draw more than 2e7 arrivals in advance") {
  const std::string why = normalise_error({{"rate", 1e6}, {"duration", 60.0}});
  CHECK(contains(why, "an open loop at 1000000.000000 requests/s"));
  CHECK(contains(why, "more than 2e7 arrivals"));
  CHECK(contains(why, "shorten the duration or give a request count"));
  CHECK_NOTHROW(normalise_options({{"rate", 1e6}, {"duration", 20.0}}));  // exactly 2e7
}

TEST_CASE("validate: the model path must be given") {
  RunConfig c = config_from(json::object());
  c.model_path.clear();
  CHECK_THROWS_WITH_AS(validate(c), "model path is empty", std::invalid_argument);
}
