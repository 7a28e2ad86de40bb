#include "common/clock.h"

#include <time.h>

#include <thread>

namespace rcbench {

std::chrono::system_clock::time_point RealClock::Now() const {
  return std::chrono::system_clock::now();
}

int64_t RealClock::MonotonicNanos() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void RealClock::SleepFor(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }

RealClock* RealClock::Get() {
  static RealClock clock;
  return &clock;
}

}  // namespace rcbench
