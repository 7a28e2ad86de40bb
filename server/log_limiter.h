#pragma once

// Rate limiting for a log line that a misbehaving peer or a resource shortage could repeat in a
// tight loop (e.g. accept() failing with EMFILE): at most one line per interval, with a count of
// the occurrences held back since the previous line. Time is passed in, so tests need no clock.
// Thread-compatible.

#include <chrono>
#include <cstdint>

namespace rcbench::server {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::nanoseconds interval = std::chrono::seconds(1))
      : interval_ns_(interval.count()) {}

  // Records one occurrence at `now_ns` (a monotonic clock). True if it may be logged now; then
  // `*suppressed` is how many occurrences were held back since the last logged one.
  bool Allow(int64_t now_ns, uint64_t* suppressed) {
    if (logged_ && now_ns - last_ns_ < interval_ns_) {
      ++suppressed_;
      return false;
    }
    logged_ = true;
    last_ns_ = now_ns;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  int64_t interval_ns_;
  bool logged_ = false;
  int64_t last_ns_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace rcbench::server
