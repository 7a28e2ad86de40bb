#pragma once

// A bounded ring of UsageReports with consecutive sequence numbers, so a subscriber that
// reconnects can resume from the last sequence it saw. Bounded by count (retention / interval)
// and by bytes; the oldest reports leave first. Thread-safe: one writer, many readers, who
// wait on it for new reports.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "rcbench/v1/agent.pb.h"

namespace rcbench::agent {

using ReportPtr = std::shared_ptr<const rcbench::v1::UsageReport>;

class ReportRing {
 public:
  ReportRing(size_t max_reports, uint64_t max_bytes);

  // Appends a report; its sequence must be one more than the previous one's.
  void Append(ReportPtr report);
  // Wakes every waiter for good (shutdown): Wait returns immediately afterwards.
  void Close();

  struct Batch {
    std::vector<ReportPtr> reports;  // consecutive, oldest first
    uint64_t missed = 0;             // reports after `after` that had already left the ring
    bool closed = false;
  };
  // Reports with sequence > `after`, waiting up to `timeout` for at least one.
  Batch WaitAfter(uint64_t after, std::chrono::nanoseconds timeout);
  // The newest report, or null.
  ReportPtr Latest() const;
  uint64_t last_sequence() const;
  size_t size() const;
  uint64_t bytes() const;

 private:
  const size_t max_reports_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<ReportPtr, uint64_t>> reports_;  // report, its size in bytes
  uint64_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace rcbench::agent
