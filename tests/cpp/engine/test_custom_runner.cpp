// The worked example of docs/design.md ("A custom runner, load and stop rule
// from C++"), compiled and run: a runner of known latency measured through
// measure()'s caller-supplied overload.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "infermeter/engine.h"
#include "infermeter/options.h"

// Each request sleeps 1 ms: a model of known latency.
class SleepReplica : public infermeter::Replica {
 public:
  c10::IValue infer() override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return c10::IValue();
  }
};

class SleepRunner : public infermeter::ModelRunner {
 public:
  std::unique_ptr<infermeter::Replica> make_replica(int) override { return std::make_unique<SleepReplica>(); }
  nlohmann::json describe() const override {
    return {{"path", "sleep"}, {"runner", "sleep"}, {"inputs", nlohmann::json::array()}};
  }
  int64_t batch_size() const override { return 1; }
};

TEST_CASE("a caller's own runner, load and stop rule are measured like a registered one") {
  auto options = infermeter::normalise_options({{"threads", 2}, {"duration", 0.5}, {"warmup", 0.05},
                                                {"calibrate", false}});
  auto config = infermeter::run_config_from(options, "sleep");
  SleepRunner runner;
  infermeter::ClosedLoop load;
  auto stop = infermeter::make_stop_rule(config);
  bool told = false;
  auto result = infermeter::measure(config, runner, load, *stop, [] { return false; }, nlohmann::json::object(), [&] { told = true; });
  CHECK(told);
  // Two clients of a 1 ms model: just under 2000 requests/s (a sleep never
  // wakes early, and wakes late by the scheduler's slack).
  const double rate = result["measurement"]["requests_per_s"].get<double>();
  CHECK(rate <= 2000.0);
  CHECK(rate > 1000.0);
  const double p50_ms = result["latency"]["host"]["p50_ns"].get<double>() / 1e6;
  CHECK(p50_ms >= 1.0);
  CHECK(p50_ms < 3.0);
  CHECK(result["model"]["runner"] == "sleep");
  CHECK(result["measurement"]["load"]["kind"] == "closed");
}
