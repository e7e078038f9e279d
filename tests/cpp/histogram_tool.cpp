// Test-only driver for the engine's Histogram: records the integers read from
// stdin (whitespace- or newline-separated) and prints its statistics as one
// JSON object, so that tests/test_histogram.py can compare them with Python's
// hdrhistogram without test hooks in the production extension.
//   histogram_tool 50 99.9 < values.txt
//   {"count":...,"min":...,"max":...,"mean":...,"stddev":...,"saturated":...,
//    "percentiles":[...],"encoded":"..."}
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "infermeter/histogram.h"

int main(int argc, char** argv) {
  std::vector<double> percentiles;
  for (int i = 1; i < argc; ++i) {
    char* end = nullptr;
    percentiles.push_back(std::strtod(argv[i], &end));
    if (end == argv[i] || *end != '\0') {
      std::fprintf(stderr, "not a percentile: %s\n", argv[i]);
      return 2;
    }
  }

  std::ios::sync_with_stdio(false);
  infermeter::Histogram histogram;
  int64_t value;
  while (std::cin >> value) histogram.record(value);
  // A value that is not an int64 stops the loop before the end of input; it
  // must fail loudly rather than truncate the data the test compares.
  if (!std::cin.eof()) {
    std::fprintf(stderr, "stdin holds something other than int64 values\n");
    return 2;
  }

  // %.17g round-trips a double exactly, so Python sees the very mean computed here.
  std::printf("{\"count\":%lld,\"min\":%lld,\"max\":%lld,\"mean\":%.17g,\"stddev\":%.17g,\"saturated\":%lld,",
              static_cast<long long>(histogram.total_count()), static_cast<long long>(histogram.min_value()),
              static_cast<long long>(histogram.max_value()), histogram.mean(), histogram.stddev(),
              static_cast<long long>(histogram.saturated()));
  std::printf("\"percentiles\":[");
  for (size_t i = 0; i < percentiles.size(); ++i)
    std::printf("%s%lld", i ? "," : "", static_cast<long long>(histogram.value_at_percentile(percentiles[i])));
  // Base64 needs no JSON escaping.
  std::printf("],\"encoded\":\"%s\"}\n", histogram.encode().c_str());
  return 0;
}
