// The clock readings of one request, as the load generator and the worker
// took them (steady clock, ns). A closed loop schedules each request when it
// issues it; an open loop schedules it in advance, so its response time counts
// the wait for a free worker.
#pragma once

#include <cstdint>

namespace infermeter {

struct RequestTiming {
  int64_t ready_ns = 0;      // when the worker was free to take it
  int64_t scheduled_ns = 0;  // when the request was due
  int64_t event_ns = 0;      // when the load let it go (its due time, or its batch's moment: load_generator.h)
  int64_t issued_ns = 0;     // when the worker started it
  int64_t launched_ns = 0;   // GPU: when the model call returned (kernels issued); else 0
  int64_t completed_ns = 0;  // when its outputs were ready
  int64_t device_ns = -1;    // GPU: time between events around it; else -1
};

}  // namespace infermeter
