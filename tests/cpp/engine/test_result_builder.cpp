// The result document (csrc/result_builder.{h,cpp}), repeats
// (csrc/repeats.{h,cpp}) and its reporters (csrc/reporters.{h,cpp}), from
// recorders filled with timings chosen so that every figure can be worked
// out by hand.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"
#include "infermeter/load_generator.h"
#include "infermeter/options.h"
#include "open_loop.h"
#include "recorder.h"
#include "repeats.h"
#include "reporters.h"
#include "request_timing.h"
#include "result_builder.h"
#include "stop_rules.h"

using namespace infermeter;
using namespace infermeter::testing;
using nlohmann::json;

namespace {

constexpr int64_t kUs = 1'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kStart = 1'000'000'000'000;  // the measurement start, steady clock

Recorder recorder_for(const RunConfig& c) {
  return Recorder(static_cast<int64_t>(c.window_s * 1e9), window_count(c));
}

std::string format(const char* f, double v) {
  char text[64];
  std::snprintf(text, sizeof text, f, v);
  return text;
}

// Smallest n with q^n <= 1 - confidence (LoadGen's floor), worked out by counting.
int64_t floor_samples(double q, double confidence) {
  int64_t n = 1;
  while (std::pow(q, static_cast<double>(n)) > 1 - confidence) ++n;
  return n;
}

// The closed-loop run every test below shares. Two workers, each issuing
// 1000 requests back to back; request k takes (k % 100 + 1) * 10 us, so each
// worker spends 10 * (10 + 20 + ... + 1000) us = 505 ms, and the 2000
// latencies are 10, 20, ..., 1000 us twenty times each. Worker A starts at 0
// (done at 505 ms), worker B (the same latencies in reverse) at 5 ms (done
// at 510 ms).
struct ClosedRun {
  RunConfig config = config_from({{"duration", 0.5}});
  Recorder merged = recorder_for(config);
  std::vector<int64_t> completions;  // offsets of every completion, from the start
  ClosedLoop load;
  RunRecord run;
  json doc;

  ClosedRun() {
    for (int worker = 0; worker < 2; ++worker) {
      Recorder r = recorder_for(config);
      int64_t t = worker == 0 ? 0 : 5 * kMs;
      for (int k = 0; k < 1000; ++k) {
        const int64_t latency = (worker == 0 ? k % 100 + 1 : 100 - k % 100) * 10 * kUs;
        RequestTiming timing;
        timing.ready_ns = timing.scheduled_ns = timing.issued_ns = kStart + t;
        t += latency;
        timing.completed_ns = kStart + t;
        r.record(timing, kStart, false);
        completions.push_back(t);
      }
      merged.merge(r);
    }
    run.merged = &merged;
    run.load = &load;
    run.batch_size = 4;
    run.warmup_requests = 6;
    run.stopped_ns = 500 * kMs;
    run.start_epoch_s = 1.7e9;
    run.stop_reason = "duration reached";
    run.stop_rule = DurationRule(0.5).describe();
    run.intra_op_threads = 1;
    doc = build_result(config, json{{"path", "model.pt"}}, run, nullptr, json{{"front_end", "test"}});
  }
};

// Each worker: 1000 requests in 505 ms.
const double kClosedRequestsPerS = 2 * 1000 / 0.505;

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/infermeter-test-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR* d = opendir(path.c_str())) {
      while (const dirent* e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
      closedir(d);
    }
    return out;
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

// ------------------------------------------------------------- build_result

TEST_CASE("build_result: a closed loop's throughput is the sum of each worker's rate, times the batch") {
  const ClosedRun r;
  const json& m = r.doc["measurement"];
  CHECK(r.doc["schema"] == "infermeter.result/1");
  CHECK(r.doc["schema"] == std::string(kResultSchema));
  CHECK(m["requests"] == 2000);
  CHECK(m["inferences"] == 8000);
  CHECK(m["warmup_requests"] == 6);
  CHECK(m["elapsed_s"].get<double>() == doctest::Approx(0.510));  // the last completion
  CHECK(m["start_epoch_s"] == 1.7e9);
  CHECK(m["interrupted"] == false);
  CHECK(m["outcome"] == "ok");
  CHECK(m["no_samples_cause"].is_null());
  // 3960.4/s: not 2000 / 0.51 s (3921.6) nor 2000 / 0.5 s (4000).
  CHECK(m["requests_per_s"].get<double>() == doctest::Approx(kClosedRequestsPerS));
  CHECK(m["inferences_per_s"].get<double>() == doctest::Approx(4 * kClosedRequestsPerS));
  CHECK(m["throughput_estimator"] == r.load.throughput_estimator());
  CHECK(m["launch_bound"].is_null());  // no device times
  CHECK(m["load"] == json{{"kind", "closed"}});
  CHECK(m["stop"] == json{{"rule", {{"rule", "duration"}, {"duration_s", 0.5}}}, {"reason", "duration reached"}});
  CHECK(r.doc["model"] == json{{"path", "model.pt"}});
  CHECK(r.doc["calibration"].is_null());
  CHECK(r.doc["environment"] == json{{"front_end", "test"}});
  CHECK(r.doc["warnings"] == json::array());  // 1 thread x 1 intra-op thread contends with nothing
}

TEST_CASE("build_result: host latency percentiles to the histogram's precision, and the unsupported p99.9") {
  const ClosedRun r;
  const json& lat = r.doc["latency"];
  CHECK(lat["launch"].is_null());
  CHECK(lat["device"].is_null());
  CHECK_FALSE(lat.contains("response"));  // a closed loop schedules nothing
  CHECK_FALSE(lat.contains("queue_wait"));
  CHECK_FALSE(lat.contains("dispatch"));

  const json& host = lat["host"];
  CHECK(host["count"] == 2000);
  CHECK(host["saturated"] == 0);
  // 10, 20, ..., 1000 us, twenty of each: the sample of rank p% * 2000.
  CHECK(host["p50_ns"].get<double>() == doctest::Approx(500 * kUs).epsilon(0.001));
  CHECK(host["p90_ns"].get<double>() == doctest::Approx(900 * kUs).epsilon(0.001));
  CHECK(host["p95_ns"].get<double>() == doctest::Approx(950 * kUs).epsilon(0.001));
  CHECK(host["p99_ns"].get<double>() == doctest::Approx(990 * kUs).epsilon(0.001));
  CHECK(host["min_ns"].get<double>() == doctest::Approx(10 * kUs).epsilon(0.001));
  CHECK(host["max_ns"].get<double>() == doctest::Approx(1000 * kUs).epsilon(0.001));
  CHECK(host["mean_ns"].get<double>() == doctest::Approx(505 * kUs).epsilon(0.001));
  // sd of 10..1000 step 10 (population, as HdrHistogram computes it): 10 * sqrt((100^2 - 1) / 12).
  CHECK(host["stddev_ns"].get<double>() == doctest::Approx(10 * kUs * std::sqrt((100.0 * 100 - 1) / 12)).epsilon(0.002));
  CHECK(host["histogram"].is_string());

  // p99.9 needs 0.999^n <= 5 %: 2995 samples; 2000 are too few.
  const int64_t needed = floor_samples(0.999, 0.95);
  CHECK(needed == 2995);
  CHECK(host["p99_9_ns"].is_null());
  CHECK(host["unsupported"] == json{{"p99_9_ns", "needs at least 2995 samples, has 2000"}});
  CHECK_FALSE(host["intervals"].contains("p99_9_ns"));
  // The median's 95 % interval spans ranks of about 1000 -+ 1.96 sqrt(500), i.e. about 956 to 1045,
  // which hold the 480 us and 530 us samples.
  const json& p50 = host["intervals"]["p50_ns"];
  REQUIRE(p50.is_array());
  CHECK(p50[0].get<double>() == doctest::Approx(480 * kUs).epsilon(0.001));
  CHECK(p50[1].get<double>() == doctest::Approx(530 * kUs).epsilon(0.001));
  for (const char* key : {"p90_ns", "p95_ns", "p99_ns"}) {
    CAPTURE(key);
    const json& ci = host["intervals"][key];
    REQUIRE(ci.is_array());
    CHECK(ci[0].get<int64_t>() <= host[key].get<int64_t>());
    CHECK(ci[1].get<int64_t>() >= host[key].get<int64_t>());
  }
}

TEST_CASE("build_result: the config section states every engine option, null where it does not apply") {
  const ClosedRun r;
  const json expected = {{"device", "cpu"},
                         {"runner", "torchscript"},
                         {"batch_size", 4},  // the run's batch, not the unset option
                         {"threads", 1},
                         {"replicas", "per-thread"},
                         {"trust", false},
                         {"intra_op_threads", 1},  // the run's
                         {"load", "closed"},
                         {"rate_per_s", nullptr},  // open loop only
                         {"arrival", nullptr},
                         {"max_batch", nullptr},  // dynamic batching only
                         {"max_queue_delay_s", nullptr},
                         {"preferred_batches", nullptr},
                         {"capture_batches", nullptr},
                         {"seed", 0},
                         {"warmup_s", 1.0},
                         {"warmup_min_requests", 2},
                         {"duration_s", 0.5},
                         {"requests", nullptr},
                         {"ci", nullptr},
                         {"ci_percentile", nullptr},  // ci only
                         {"min_duration_s", nullptr},
                         {"window_s", 0.1},
                         {"calibrate", true},
                         {"trace", nullptr},
                         {"explicit_inputs", false}};
  CHECK(r.doc["config"] == expected);
}

TEST_CASE("build_result: the timeline's windows count completions up to the last, and too few give no interval") {
  const ClosedRun r;
  // Count the completions per 100 ms window by hand; the last completion (510 ms) is in window 5.
  std::vector<int64_t> expected(6, 0);
  for (const int64_t c : r.completions) expected.at(static_cast<size_t>(c / (100 * kMs)))++;
  CHECK(r.doc["timeline"]["window_s"] == 0.1);
  CHECK(r.doc["timeline"]["completions"] == json(expected));
  CHECK(r.doc["measurement"]["throughput_ci"] == json{{"reason", "needs at least 7 completion windows, has 6"}});
}

TEST_CASE("build_result: an open loop adds response time, queue wait and dispatch, and its own section") {
  const RunConfig config = config_from({{"rate", 1000.0}, {"arrival", "constant"}, {"duration", 0.1}});
  const auto load = load_kind("open").make(config);
  Recorder merged = recorder_for(config);
  {
    // Arrivals every 1 ms from 0 to 99 ms, each issued 20 us late and done 300 us after.
    Recorder r = recorder_for(config);
    for (int64_t k = 0; k < 100; ++k) {
      RequestTiming t;
      t.scheduled_ns = kStart + k * kMs;
      t.ready_ns = t.scheduled_ns - 1;
      t.issued_ns = t.scheduled_ns + 20 * kUs;
      t.completed_ns = t.issued_ns + 300 * kUs;
      r.record(t, kStart, true);
    }
    merged.merge(r);
  }
  RunRecord run;
  run.merged = &merged;
  run.load = load.get();
  run.stopped_ns = 100 * kMs;
  run.stop_reason = "duration reached";
  run.stop_rule = DurationRule(0.1).describe();
  const json doc = build_result(config, json{{"path", "model.pt"}}, run, nullptr, json::object());

  const json& m = doc["measurement"];
  CHECK(m["requests"] == 100);
  // 100 completions over the later of the stop (100 ms) and the last completion (99.32 ms).
  CHECK(m["requests_per_s"].get<double>() == doctest::Approx(1000.0));
  CHECK(m["load"]["kind"] == "open");
  CHECK(m["load"]["arrived"] == 100);
  CHECK(m["load"]["sustained"] == true);
  CHECK(doc["config"]["load"] == "open");
  CHECK(doc["config"]["rate_per_s"] == 1000.0);
  CHECK(doc["config"]["arrival"] == "constant");
  CHECK(doc["latency"]["response"]["count"] == 100);
  CHECK(doc["latency"]["response"]["p50_ns"].get<double>() == doctest::Approx(320 * kUs).epsilon(0.001));
  CHECK(doc["latency"]["queue_wait"]["p50_ns"].get<double>() == doctest::Approx(20 * kUs).epsilon(0.001));
  CHECK(doc["latency"]["queue_wait"]["p99_ns"].is_null());  // 100 samples: below p99's floor of 299
  CHECK(doc["latency"]["dispatch"]["max_ns"].get<double>() == doctest::Approx(20 * kUs).epsilon(0.001));
  CHECK(doc["latency"]["host"]["p50_ns"].get<double>() == doctest::Approx(300 * kUs).epsilon(0.001));

  const std::string text = console_summary(doc);
  CHECK(contains(text, "load         open loop, constant arrivals at 1000.0/s offered; achieved 1000.0/s, "
                       "0 queued at end, sustained\n"));
  CHECK(contains(text, "response     mean 320 µs  p50 320 µs"));
}

TEST_CASE("build_result: no completed request is the no-samples outcome, with its cause") {
  const RunConfig config = config_from({{"duration", 0.5}});
  Recorder empty = recorder_for(config);
  const ClosedLoop load;
  RunRecord run;
  run.merged = &empty;
  run.load = &load;
  run.stopped_ns = 500 * kMs;
  run.stop_reason = "duration reached";
  run.stop_rule = DurationRule(0.5).describe();
  const json doc = build_result(config, json{{"path", "slow.pt"}}, run, nullptr, json::object());
  const json& m = doc["measurement"];
  CHECK(m["requests"] == 0);
  CHECK(m["outcome"] == "no_samples");
  CHECK(m["no_samples_cause"] ==
        "no measured request completed before the stop (duration reached): one request takes longer than the run "
        "allows");
  CHECK(m["requests_per_s"] == 0.0);
  CHECK(doc["latency"]["host"].is_null());
  CHECK(doc["timeline"]["completions"] == json::array({0}));
  CHECK(contains(console_summary(doc), "outcome      no samples: no measured request completed before the stop "
                                       "(duration reached)"));
  CHECK_FALSE(contains(console_summary(doc), "throughput"));

  run.interrupted = true;
  const json stopped = build_result(config, json{{"path", "slow.pt"}}, run, nullptr, json::object());
  CHECK(stopped["measurement"]["no_samples_cause"] == "interrupted before any measured request completed");
  CHECK(contains(console_summary(stopped), "requests     0 in 0.000 s (interrupted)\n"));
}

// ---------------------------------------------------------- latency_summary

TEST_CASE("latency_summary: null for an empty histogram") {
  CHECK(latency_summary(Histogram()).is_null());
}

TEST_CASE("latency_summary: with 10 samples only the median is supported, with its exact rank interval") {
  Histogram h;
  for (int64_t v = 100; v <= 1000; v += 100) h.record(v);  // exact below 2048 ns
  const json s = latency_summary(h);
  CHECK(s["count"] == 10);
  CHECK(s["min_ns"] == 100);
  CHECK(s["max_ns"] == 1000);
  CHECK(s["mean_ns"] == 550.0);
  CHECK(s["p50_ns"] == 500);
  // Floors: p90 0.9^n <= 0.05 from n = 29, p95 from 59, p99 from 299, p99.9 from 2995.
  CHECK(floor_samples(0.9, 0.95) == 29);
  CHECK(floor_samples(0.95, 0.95) == 59);
  CHECK(floor_samples(0.99, 0.95) == 299);
  CHECK(s["p90_ns"].is_null());
  CHECK(s["p99_ns"].is_null());
  CHECK(s["unsupported"] == json{{"p90_ns", "needs at least 29 samples, has 10"},
                                 {"p95_ns", "needs at least 59 samples, has 10"},
                                 {"p99_ns", "needs at least 299 samples, has 10"},
                                 {"p99_9_ns", "needs at least 2995 samples, has 10"}});
  // Binomial(10, 1/2): P(X <= 1) = 11/1024 <= 2.5 % < P(X <= 2) = 56/1024, and
  // P(X <= 7) = 968/1024 < 97.5 % <= P(X <= 8) = 1013/1024: ranks 2 and 9, the 200 and 900 ns samples.
  CHECK(s["intervals"] == json{{"p50_ns", {200, 900}}});
}

// ------------------------------------------------------ throughput_interval

TEST_CASE("throughput_interval: reasons when there are too few windows or no completions") {
  CHECK(throughput_interval({1, 2, 3, 4, 5, 6}, 0.1, 10, 1) ==
        json{{"reason", "needs at least 7 completion windows, has 6"}});
  CHECK(throughput_interval({}, 0.1, 10, 1) == json{{"reason", "needs at least 7 completion windows, has 0"}});
  CHECK(throughput_interval(std::vector<int64_t>(10, 0), 0.1, 0, 1) ==
        json{{"reason", "no completions in the whole windows"}});
}

TEST_CASE("throughput_interval: batch means over the whole windows, applied to the estimate times the batch") {
  // The first window (warm-up overlap) and the last (cut short by the stop)
  // are left out; the 20 whole ones alternate 990 and 1010 completions, so
  // the rates 9900/s and 10100/s give a t interval of 2.093 * sd / sqrt(20) around 10000/s.
  std::vector<int64_t> windows{500};
  for (int i = 0; i < 20; ++i) windows.push_back(i % 2 == 0 ? 990 : 1010);
  windows.push_back(300);
  const double sd = std::sqrt(20 * 100.0 * 100.0 / 19);
  const double rel = 2.093024054408263 * sd / std::sqrt(20.0) / 10000.0;
  const json ci = throughput_interval(windows, 0.1, 1000.0, 2);
  CHECK(ci["confidence"] == 0.95);
  CHECK(ci["kind"] == "within-run");
  CHECK(ci["half_width_rel"].get<double>() == doctest::Approx(rel).epsilon(1e-9));
  CHECK(ci["standard_error_rel"].get<double>() == doctest::Approx(sd / std::sqrt(20.0) / 10000.0).epsilon(1e-9));
  CHECK(ci["lo_inferences_per_s"].get<double>() == doctest::Approx(2000.0 * (1 - rel)).epsilon(1e-9));
  CHECK(ci["hi_inferences_per_s"].get<double>() == doctest::Approx(2000.0 * (1 + rel)).epsilon(1e-9));
  CHECK(ci["method"] == "batch means: 20 batches of 1 windows of 100 ms");

  // 40 steady whole windows: 20 batches of 2, no width at all.
  std::vector<int64_t> steady(42, 700);
  const json exact = throughput_interval(steady, 0.1, 7000.0, 1);
  CHECK(exact["half_width_rel"] == 0.0);
  CHECK(exact["lo_inferences_per_s"] == 7000.0);
  CHECK(exact["hi_inferences_per_s"] == 7000.0);
  CHECK(exact["method"] == "batch means: 20 batches of 2 windows of 100 ms");
}

// ----------------------------------------------------------- combine_repeats

TEST_CASE("combine_repeats: the median-throughput run is reported, with every run and their spread") {
  const ClosedRun r;
  std::vector<json> runs(3, r.doc);
  const double rates[] = {100.0, 300.0, 200.0};
  const int64_t p50s[] = {10, 30, 20};
  for (size_t i = 0; i < 3; ++i) {
    runs[i]["measurement"]["inferences_per_s"] = rates[i];
    runs[i]["measurement"]["requests"] = static_cast<int64_t>(i + 1);  // tells the runs apart
    runs[i]["latency"]["host"]["p50_ns"] = p50s[i];
  }
  CHECK(median_run(runs) == 2);
  const json doc = combine_repeats(runs, "fresh processes");
  CHECK(doc["measurement"]["requests"] == 3);  // the 200/s run's own figures
  CHECK(doc["measurement"]["inferences_per_s"] == 200.0);
  const json& rep = doc["repeats"];
  CHECK(rep["count"] == 3);
  CHECK(rep["reported_run"] == 2);
  REQUIRE(rep["runs"].size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(rep["runs"][i]["inferences_per_s"] == rates[i]);
    CHECK(rep["runs"][i]["requests"] == static_cast<int64_t>(i + 1));
    CHECK(rep["runs"][i]["p50_ns"] == p50s[i]);
    CHECK(rep["runs"][i]["outcome"] == "ok");
    CHECK(rep["runs"][i]["elapsed_s"].get<double>() == doctest::Approx(0.51));
    CHECK(rep["runs"][i]["p99_9_ns"].is_null());
  }
  // Mean 200, sample sd 100, CV 0.5; the mean's interval: t(0.975, 2) = 4.3027 * 100 / sqrt(3).
  const json& rate = rep["inferences_per_s"];
  const double half = 4.302652729911275 * 100.0 / std::sqrt(3.0);
  CHECK(rate["mean"].get<double>() == doctest::Approx(200.0));
  CHECK(rate["stddev"].get<double>() == doctest::Approx(100.0));
  CHECK(rate["cv"].get<double>() == doctest::Approx(0.5));
  CHECK(rate["runs"] == 3);
  CHECK(rate["lo"].get<double>() == doctest::Approx(200.0 - half).epsilon(1e-6));
  CHECK(rate["hi"].get<double>() == doctest::Approx(200.0 + half).epsilon(1e-6));
  CHECK(rep["p50_ns"]["mean"].get<double>() == doctest::Approx(20.0));
  CHECK(rep["p50_ns"]["stddev"].get<double>() == doctest::Approx(10.0));
  CHECK(rep["p99_9_ns"].is_null());  // no run states it
  CHECK(rep["isolation"] == "fresh processes");

  // The document now states the across-run intervals, keeping the run's own.
  const json& ci = doc["measurement"]["throughput_ci"];
  CHECK(ci["kind"] == "across-runs");
  CHECK(ci["runs"] == 3);
  CHECK(ci["lo_inferences_per_s"].get<double>() == 0.0);  // 200 - 248: a rate is not negative
  CHECK(ci["hi_inferences_per_s"].get<double>() == doctest::Approx(200.0 + half).epsilon(1e-6));
  CHECK(ci["half_width_rel"].get<double>() == doctest::Approx(half / 200.0).epsilon(1e-6));
  CHECK(ci["within_run"] == runs[2]["measurement"]["throughput_ci"]);
  CHECK(doc["latency"]["host"]["intervals_kind"] == "across-runs");
  const double p50_half = 4.302652729911275 * 10.0 / std::sqrt(3.0);
  CHECK(doc["latency"]["host"]["intervals"]["p50_ns"][1].get<double>() == doctest::Approx(20.0 + p50_half));
  CHECK(doc["latency"]["host"]["intervals"]["p99_9_ns"].is_null());  // no run states p99.9: no interval of either kind

  // The console states the repeats, and which kind of interval the throughput has.
  const std::string text = console_summary(doc);
  CHECK(contains(text, "(95%, across 3 runs)"));
  CHECK(contains(text, "repeats      3 runs in fresh processes (this is the median): 200.0 inferences/s mean, CV 50%"));
  CHECK(contains(text, "95% interval " + format("%.1f", 200.0 - half) + " to " + format("%.1f", 200.0 + half) + "\n"));
}

TEST_CASE("combine_repeats: the run-to-run variance splits into what each run saw and what it could not") {
  // Runs of 90, 100 and 110/s: CV 0.1. Each run's batch means gave a 3%
  // standard error, so 0.03 of the 0.1 is within runs, sqrt(0.01 - 0.0009) between.
  const ClosedRun r;
  std::vector<json> runs(3, r.doc);
  for (size_t i = 0; i < 3; ++i) {
    runs[i]["measurement"]["inferences_per_s"] = 90.0 + 10.0 * static_cast<double>(i);
    runs[i]["measurement"]["throughput_ci"] = {{"kind", "within-run"}, {"half_width_rel", 0.06},
                                               {"standard_error_rel", 0.03}};
  }
  const json rate = combine_repeats(runs, "one process")["repeats"]["inferences_per_s"];
  CHECK(rate["cv"].get<double>() == doctest::Approx(0.1));
  CHECK(rate["within_run_cv"].get<double>() == doctest::Approx(0.03));
  CHECK(rate["between_run_cv"].get<double>() == doctest::Approx(std::sqrt(0.01 - 0.0009)));
  // Runs that agree better than their own noise leave nothing between them.
  for (auto& run : runs) run["measurement"]["throughput_ci"]["standard_error_rel"] = 0.5;
  CHECK(combine_repeats(runs, "one process")["repeats"]["inferences_per_s"]["between_run_cv"] == 0.0);
  // A run without a stated interval leaves the split unknown.
  runs[1]["measurement"]["throughput_ci"] = {{"reason", "too short"}};
  const json unknown = combine_repeats(runs, "one process")["repeats"]["inferences_per_s"];
  CHECK(unknown["within_run_cv"].is_null());
  CHECK(unknown["between_run_cv"].is_null());
}

TEST_CASE("combine_repeats: an even count reports the lower middle; one run has no interval") {
  const ClosedRun r;
  std::vector<json> runs(4, r.doc);
  const double rates[] = {40.0, 10.0, 30.0, 20.0};
  for (size_t i = 0; i < 4; ++i) runs[i]["measurement"]["inferences_per_s"] = rates[i];
  CHECK(median_run(runs) == 3);  // sorted 10, 20, 30, 40: the 20/s run
  CHECK(combine_repeats(runs, "fresh processes")["repeats"]["reported_run"] == 3);

  const json one = combine_repeats({r.doc}, "fresh processes");
  CHECK(one["repeats"]["count"] == 1);
  CHECK(one["repeats"]["inferences_per_s"]["stddev"] == 0.0);
  CHECK(one["repeats"]["inferences_per_s"]["lo"].is_null());
  CHECK(one["repeats"]["inferences_per_s"]["hi"].is_null());
  CHECK(one["measurement"]["throughput_ci"] == r.doc["measurement"]["throughput_ci"]);  // one run: its own interval
  CHECK_THROWS_AS(combine_repeats({}, "fresh processes"), std::invalid_argument);
}

// ------------------------------------------------------------------ reporters

TEST_CASE("console_summary: the run's facts, throughput and latency percentiles, one a line") {
  const ClosedRun r;
  const std::string text = console_summary(r.doc);
  CHECK(contains(text, "model        model.pt\n"));
  CHECK(contains(text, "device       cpu, runner torchscript, batch 4, 1 thread(s), per-thread replicas\n"));
  CHECK(contains(text, "requests     2000 in 0.510 s\n"));
  CHECK(contains(text, "stopped      duration reached\n"));
  CHECK(contains(text, "throughput   " + format("%.1f", 4 * kClosedRequestsPerS) + " inferences/s, " +
                           format("%.1f", kClosedRequestsPerS) + " requests/s\n"));
  CHECK(contains(text, "throughput   15841.6 inferences/s, 3960.4 requests/s\n"));
  // 3 significant digits: 505, 500, 900, 950, 990 us and 1 ms.
  CHECK(contains(text, "host         mean 505 µs  p50 500 µs  p90 900 µs  p95 950 µs  p99 990 µs  max 1.00 ms\n"));
  CHECK_FALSE(contains(text, "launch "));
  CHECK_FALSE(contains(text, "repeats"));

  // With a throughput interval, its relative width follows the figure, and says which kind it is.
  json with_ci = r.doc;
  with_ci["measurement"]["throughput_ci"]["half_width_rel"] = 0.0048;
  CHECK(contains(console_summary(with_ci),
                 "throughput   15841.6 inferences/s +-0.48% (95%, within this run), 3960.4 requests/s\n"));

  // The reporter prints the same text.
  std::ostringstream out;
  ConsoleReporter(out).report(r.doc);
  CHECK(out.str() == text);
}

TEST_CASE("format_duration_ns: three significant digits in the unit that keeps them") {
  CHECK(format_duration_ns(0) == "0 ns");
  CHECK(format_duration_ns(1) == "1.00 ns");
  CHECK(format_duration_ns(999) == "999 ns");
  CHECK(format_duration_ns(999.6) == "1.00 µs");  // rounded before the unit is chosen
  CHECK(format_duration_ns(1500) == "1.50 µs");
  CHECK(format_duration_ns(12'345) == "12.3 µs");
  CHECK(format_duration_ns(999'950) == "1.00 ms");
  CHECK(format_duration_ns(1'234'567) == "1.23 ms");
  CHECK(format_duration_ns(100e6) == "100 ms");
  CHECK(format_duration_ns(1e9) == "1.00 s");
  CHECK(format_duration_ns(12.5e9) == "12.5 s");
  CHECK(format_duration_ns(3600e9) == "3600 s");
  CHECK_THROWS_AS(format_duration_ns(-1), std::invalid_argument);
  CHECK_THROWS_AS(format_duration_ns(std::nan("")), std::invalid_argument);
  CHECK_THROWS_AS(format_duration_ns(INFINITY), std::invalid_argument);
}

TEST_CASE("write_file_atomically: writes and replaces the whole file, leaving no scratch file") {
  TempDir dir;
  const std::string path = dir.path + "/result.json";
  write_file_atomically(path, "first\n");
  CHECK(read_file(path) == "first\n");
  write_file_atomically(path, "second, longer\n");
  CHECK(read_file(path) == "second, longer\n");
  write_file_atomically(path, "");
  CHECK(read_file(path).empty());
  CHECK(dir.entries() == std::vector<std::string>{"result.json"});

  JsonFileReporter(path).report(json{{"a", 1}});
  CHECK(read_file(path) == json{{"a", 1}}.dump(2) + "\n");
}

TEST_CASE("write_file_atomically: an error names the file, and a failed write leaves nothing behind") {
  TempDir dir;
  const std::string missing = dir.path + "/no-such-folder/result.json";
  try {
    write_file_atomically(missing, "x");
    FAIL("no error for a folder that does not exist");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), "cannot write '" + missing + "'"));
    CHECK(contains(e.what(), "No such file or directory"));
  }
  // A folder or a pipe where the file should be: refused before a scratch
  // file is written, since the rename would replace the pipe (as root, a device).
  const std::string folder = dir.path + "/taken";
  const std::string pipe = dir.path + "/pipe";
  REQUIRE(mkdir(folder.c_str(), 0755) == 0);
  REQUIRE(mkfifo(pipe.c_str(), 0644) == 0);
  for (const auto& [path, why] : {std::pair{folder, "it is a directory"},
                                  std::pair{pipe, "it is not a regular file (a device, pipe or socket)"}}) {
    try {
      write_file_atomically(path, "x");
      FAIL("no error for a path that is " << why);
    } catch (const WriteFailure& e) {
      CHECK(contains(e.what(), "cannot write '" + path + "': " + why));
    }
  }
  struct stat status {};
  REQUIRE(stat(pipe.c_str(), &status) == 0);
  CHECK(S_ISFIFO(status.st_mode));
  auto names = dir.entries();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"pipe", "taken"});
}
