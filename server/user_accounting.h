#pragma once

// User-level CPU accounting for one event-loop thread: the loop charges each handled event's
// duration, measured with the cheap monotonic clock, to a logical container; Reconcile() (once
// per sweep, on the same thread) reads the thread's real CPU clock once and scales the slices
// charged since the last reconciliation so they add up to it. Kernel migration per event
// would cost far more (see PAPER_NOTES.md §4). This is the server's seam for rc's user-level
// accounting.
//
// Charge() and Reconcile() must be called from the owning thread; ChargedNanos() from any.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace rcbench::server {

// The CPU clock of the calling thread.
class ThreadCpuClock {
 public:
  virtual ~ThreadCpuClock() = default;
  virtual int64_t ThreadCpuNanos() = 0;
};

// clock_gettime(CLOCK_THREAD_CPUTIME_ID).
class RealThreadCpuClock : public ThreadCpuClock {
 public:
  int64_t ThreadCpuNanos() override;
};

class UserAccounting {
 public:
  UserAccounting(size_t containers, ThreadCpuClock* cpu_clock);

  // Call once on the owning thread before the first Charge().
  void Start();
  void Charge(int container, int64_t measured_nanos) {
    pending_[container] += measured_nanos;
    pending_total_ += measured_nanos;
  }
  // Distributes the thread CPU used since the last call over the pending slices.
  void Reconcile();
  // Reconciled CPU nanoseconds charged to `container` so far.
  uint64_t ChargedNanos(int container) const {
    return charged_[container].load(std::memory_order_relaxed);
  }
  size_t containers() const { return pending_.size(); }

 private:
  ThreadCpuClock* cpu_clock_;
  std::vector<int64_t> pending_;
  int64_t pending_total_ = 0;
  int64_t last_cpu_ns_ = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> charged_;
};

}  // namespace rcbench::server
