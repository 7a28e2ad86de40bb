#include "controller/faults.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace rcbench::controller {

void FaultMonitor::Report(const std::string& host, std::string reason, bool infrastructure) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!host.empty()) lost_hosts_.insert(host);
  if (failure_) return;
  RCBENCH_LOG(DEBUG) << "fault: " << reason;
  failure_ = AttemptFailure{std::move(reason), infrastructure};
  failed_at_ns_ = clock_ != nullptr ? clock_->MonotonicNanos() : 1;
}

bool FaultMonitor::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_.has_value();
}

std::optional<AttemptFailure> FaultMonitor::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

bool FaultMonitor::HostLost(const std::string& host) const {
  std::lock_guard<std::mutex> lock(mu_);
  return lost_hosts_.count(host) > 0;
}

void ProbeTargets(const std::vector<ProbeTarget>& targets, FaultMonitor& faults) {
  for (const ProbeTarget& t : targets) {
    if (faults.HostLost(t.host) && !t.host_probe) continue;
    absl::Status s = t.probe();
    if (s.ok()) continue;
    if (t.host_probe) {
      // The server did not answer: its host's agent decides whose failure it is.
      absl::Status host = t.host_probe();
      if (!host.ok()) {
        faults.Report(t.host, absl::StrCat("agent ", t.host, " lost: ", host.message()));
      } else {
        faults.Report("", absl::StrCat(t.what, " failed: ", s.message()),
                      /*infrastructure=*/false);
      }
      continue;
    }
    faults.Report(t.host, absl::StrCat(t.what, " lost: ", s.message()));
  }
}

HostWatch::HostWatch(std::vector<ProbeTarget> targets, FaultMonitor& faults, Clock& clock,
                     std::chrono::milliseconds period)
    : targets_(std::move(targets)),
      faults_(faults),
      clock_(clock),
      period_(period),
      thread_([this] { Loop(); }) {}

HostWatch::~HostWatch() { Stop(); }

void HostWatch::Add(ProbeTarget target) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_.push_back(std::move(target));
}

void HostWatch::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void HostWatch::Loop() {
  while (!stop_) {
    const int64_t next = clock_.MonotonicNanos() +
                         std::chrono::duration_cast<std::chrono::nanoseconds>(period_).count();
    std::vector<ProbeTarget> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      targets = targets_;
    }
    ProbeTargets(targets, faults_);
    ++rounds_;
    while (!stop_) {
      int64_t left = next - clock_.MonotonicNanos();
      if (left <= 0) break;
      clock_.SleepFor(std::chrono::nanoseconds(std::min<int64_t>(left, 50'000'000)));
    }
  }
}

}  // namespace rcbench::controller
