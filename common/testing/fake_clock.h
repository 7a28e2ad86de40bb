#pragma once

// A manually advanced Clock for tests. SleepFor advances time instead of blocking.
// Thread-safe.

#include <atomic>
#include <chrono>
#include <thread>

#include "common/clock.h"

namespace rcbench::testing {

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_monotonic_ns = 1'000'000'000,
                     std::chrono::system_clock::time_point start_wall =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)))
      : mono_ns_(start_monotonic_ns),
        wall_offset_ns_(
            std::chrono::duration_cast<std::chrono::nanoseconds>(start_wall.time_since_epoch())
                .count() -
            start_monotonic_ns) {}

  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(mono_ns_.load() + wall_offset_ns_)));
  }
  int64_t MonotonicNanos() const override { return mono_ns_.load(); }
  void SleepFor(std::chrono::nanoseconds d) override { Advance(d); }

  void Advance(std::chrono::nanoseconds d) { mono_ns_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> mono_ns_;
  const int64_t wall_offset_ns_;
};

// A FakeClock that also yields `yield` of real time on every sleep, so that background threads
// of the code under test (stamping with this clock, or waiting on it) interleave with the
// thread that advances it.
class YieldingFakeClock : public FakeClock {
 public:
  explicit YieldingFakeClock(std::chrono::microseconds yield = std::chrono::milliseconds(2))
      : yield_(yield) {}
  void SleepFor(std::chrono::nanoseconds d) override {
    Advance(d);
    std::this_thread::sleep_for(yield_);
  }

 private:
  const std::chrono::microseconds yield_;
};

}  // namespace rcbench::testing
