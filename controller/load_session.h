#pragma once

// One load generator's part of an attempt: its workload, the lease that bounds it, and its
// statistics.
//
// Start() starts the load under a lease of `lease.length` and two threads: one renews the
// lease every `lease.renew_every`, one reads the statistics stream. If the generator cannot be
// reached the lease runs out and the generator stops sending by itself; the session reports
// the loss to the FaultMonitor as soon as it is sure (the stream broke, or the lease has run
// out by the controller's reckoning). Stop() ends the load and keeps its totals; Close() ends
// the threads (and, after a failure, asks the generator to stop if it is still reachable).
// Every wait goes through the Clock. Not thread-safe: one runner thread calls it; its own
// threads only touch the state behind mu_.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "controller/clients.h"
#include "controller/controller_metrics.h"
#include "controller/faults.h"

namespace rcbench::controller {

struct LeaseOptions {
  // How long the generator keeps sending without hearing from the controller.
  std::chrono::nanoseconds length{std::chrono::seconds(2)};
  std::chrono::nanoseconds renew_every{std::chrono::milliseconds(500)};
};

class LoadSession {
 public:
  // `client`, `clock`, `faults` and `metrics` (may be null) must outlive the session.
  LoadSession(std::string name, LoadGenClient& client, Clock& clock, LeaseOptions lease,
              FaultMonitor& faults, ControllerMetrics* metrics);
  ~LoadSession();
  LoadSession(const LoadSession&) = delete;
  LoadSession& operator=(const LoadSession&) = delete;

  const std::string& name() const { return name_; }
  absl::Status Configure(const rcbench::v1::Workload& workload);
  // Starts the load. A generator still finishing a run of an earlier controller (one that was
  // killed: its lease ends it within the lease length) is waited for, up to `busy_wait`.
  absl::Status Start(std::chrono::nanoseconds busy_wait = std::chrono::seconds(12));
  // Stops the load and keeps the generator's totals.
  absl::Status Stop();
  // Ends the threads; when `abort`, first stops the load if the generator is not known lost.
  // Idempotent.
  void Close(bool abort);

  // After Close().
  const std::vector<rcbench::v1::StatsReport>& reports() const { return reports_; }
  const std::vector<rcbench::v1::ClassStats>& totals() const { return totals_; }
  int renewals() const { return renewals_; }

 private:
  void ReadStats();
  void RenewLeases();
  bool Done();

  const std::string name_;
  LoadGenClient& client_;
  Clock& clock_;
  const LeaseOptions lease_;
  FaultMonitor& faults_;
  ControllerMetrics* metrics_;
  std::string workload_id_, run_id_, lease_id_;
  std::unique_ptr<Stream<rcbench::v1::StatsReport>> stream_;
  std::thread stats_thread_, lease_thread_;
  std::mutex mu_;
  bool done_ = false;
  bool final_seen_ = false;
  bool stopping_ = false;  // Stop() called
  bool stopped_ = false;
  std::vector<rcbench::v1::StatsReport> reports_;
  std::vector<rcbench::v1::ClassStats> totals_;
  int renewals_ = 0;
};

}  // namespace rcbench::controller
