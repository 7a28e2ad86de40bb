#pragma once

// How an attempt at a run notices that something it depends on is gone.
//
// FaultMonitor collects losses reported from any thread (a usage stream that broke, a lease
// that could not be renewed, a probe that failed, the server that exited); the first one is
// the attempt's failure, and the hosts named are remembered so that teardown does not wait on
// them. HostWatch probes every agent, load generator and the server of an attempt in the
// background and reports to a FaultMonitor, so that a loss aborts the current phase within a
// probe period plus a probe deadline instead of at the phase's end.
//
// A loss is an infrastructure failure (the run is redone) unless it is the system under test's
// own (the server exited while its agent still answers): that one is final.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"

namespace rcbench::controller {

struct AttemptFailure {
  std::string reason;
  // True when the infrastructure failed (a host, a link, a lease, the controller), false when
  // the system under test did.
  bool infrastructure = true;
};

// Thread-safe.
class FaultMonitor {
 public:
  // Records a loss. `host` (may be empty) is the host that is gone; the first reported loss is
  // the failure, later ones only add their host.
  void Report(const std::string& host, std::string reason, bool infrastructure = true);
  bool failed() const;
  std::optional<AttemptFailure> failure() const;
  bool HostLost(const std::string& host) const;
  // Monotonic time of the first report (0 when none).
  int64_t failed_at_ns() const { return failed_at_ns_.load(); }
  // Stamps reports with `clock`'s monotonic time; optional.
  void set_clock(Clock* clock) { clock_ = clock; }

 private:
  mutable std::mutex mu_;
  std::optional<AttemptFailure> failure_;
  std::set<std::string> lost_hosts_;
  std::atomic<int64_t> failed_at_ns_{0};
  Clock* clock_ = nullptr;
};

// What HostWatch probes: each call is one bounded check, OK or why it failed.
struct ProbeTarget {
  std::string host;  // as the spec names it
  std::string what;  // "agent srv", "load generator cli", "server": how messages name it
  std::function<absl::Status()> probe;
  // For the server: the probe of the agent that runs it. When the server's probe fails and
  // this one still succeeds, the server itself failed (the system under test: final).
  std::function<absl::Status()> host_probe;
};

// Probes every target, reporting the first failure of each to `faults`. Used by the runner's
// barriers (synchronously) and by HostWatch (in the background).
void ProbeTargets(const std::vector<ProbeTarget>& targets, FaultMonitor& faults);

// Runs ProbeTargets every `period` on its own thread from construction until destruction.
// Waits go through `clock` in slices of at most 50 ms, so Stop() returns promptly.
class HostWatch {
 public:
  HostWatch(std::vector<ProbeTarget> targets, FaultMonitor& faults, Clock& clock,
            std::chrono::milliseconds period);
  ~HostWatch();
  HostWatch(const HostWatch&) = delete;
  HostWatch& operator=(const HostWatch&) = delete;
  // Adds a target (the server, once started). Thread-safe.
  void Add(ProbeTarget target);
  // Ends the thread; idempotent.
  void Stop();
  int rounds() const { return rounds_.load(); }

 private:
  void Loop();
  std::mutex mu_;
  std::vector<ProbeTarget> targets_;
  FaultMonitor& faults_;
  Clock& clock_;
  const std::chrono::milliseconds period_;
  std::atomic<bool> stop_{false};
  std::atomic<int> rounds_{0};
  std::thread thread_;
};

}  // namespace rcbench::controller
