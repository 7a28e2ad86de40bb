#include "server/user_accounting.h"

#include <time.h>

namespace rcbench::server {

int64_t RealThreadCpuClock::ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

UserAccounting::UserAccounting(size_t containers, ThreadCpuClock* cpu_clock)
    : cpu_clock_(cpu_clock),
      pending_(containers, 0),
      charged_(new std::atomic<uint64_t>[containers]) {
  for (size_t i = 0; i < containers; ++i) charged_[i].store(0);
}

void UserAccounting::Start() { last_cpu_ns_ = cpu_clock_->ThreadCpuNanos(); }

void UserAccounting::Reconcile() {
  int64_t now = cpu_clock_->ThreadCpuNanos();
  int64_t real = now - last_cpu_ns_;
  last_cpu_ns_ = now;
  if (pending_total_ <= 0) return;
  // CPU the loop spent outside handlers (polling, accepting, timers) is shared out in
  // proportion to the handled work, so the containers' totals add up to the thread's CPU.
  double scale = real > 0 ? static_cast<double>(real) / static_cast<double>(pending_total_) : 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i] == 0) continue;
    charged_[i].fetch_add(static_cast<uint64_t>(static_cast<double>(pending_[i]) * scale),
                          std::memory_order_relaxed);
    pending_[i] = 0;
  }
  pending_total_ = 0;
}

}  // namespace rcbench::server
