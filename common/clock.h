#pragma once

// The clock seam: everything that reads time or waits goes through Clock so tests can use
// FakeClock (common/testing/fake_clock.h) instead of sleeping.

#include <chrono>
#include <cstdint>

namespace rcbench {

class Clock {
 public:
  virtual ~Clock() = default;
  // CLOCK_REALTIME.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // CLOCK_MONOTONIC, in nanoseconds since an arbitrary epoch.
  virtual int64_t MonotonicNanos() const = 0;
  // Blocks the calling thread for `d` (a fake clock advances instead).
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

// The real clocks. Thread-safe.
class RealClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override;
  int64_t MonotonicNanos() const override;
  void SleepFor(std::chrono::nanoseconds d) override;

  // A process-wide instance.
  static RealClock* Get();
};

}  // namespace rcbench
