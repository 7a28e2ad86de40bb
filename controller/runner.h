#pragma once

// Executes an experiment's matrix on a testbed and writes each run's outcome to the store.
//
// A run is tried in attempts. Before each, the runner waits (up to RunnerOptions::host_wait)
// for every host to answer and releases whatever an earlier attempt or a killed controller left
// on the agents under the run's id (its services and containers). An attempt goes through
// setup (host facts, sysctls, containers, the server), start load, warm-up, measure, cool-down,
// teardown (on every path) and collect; one short method each. Meanwhile a HostWatch probes
// every host and the server, the usage streams and the load sessions' leases report losses,
// and any loss aborts the current phase at once (FaultMonitor). A loss of the infrastructure
// (a host, a link, a lease) ends the attempt and the run is redone, up to max_attempts; a
// failure of the system under test (the server exits, a spec the agent refuses) is final.
// Hosts that stay away longer than host_wait stop the invocation: the runs not done stay
// PENDING for the next one.
//
// Runs already COMPLETED or FAILED in the store are skipped (retry_failed: FAILED runs get a new
// budget of attempts); runs a killed controller left RUNNING are marked INTERRUPTED and redone
// first. A micro-benchmark experiment (spec `benchmark`) runs its program through the
// BenchmarkExecutor after setup instead of a server and load. A run whose results the store
// cannot take (a full disk: RESOURCE_EXHAUSTED) is marked FAILED with the store's message when
// possible, and Run() stops with that error; the runs stored before it are intact.
//
// Telemetry: one thread per agent stays subscribed to its usage stream for the whole
// experiment, resuming after the last sequence it saw when the stream breaks (a break during an
// attempt is that agent's loss); one LoadSession per load generator during an attempt.
// Every wait goes through the Clock. Run() is called from one thread, which must outlive any
// local-mode children.

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/benchmark_executor.h"
#include "controller/campaign.h"
#include "controller/clients.h"
#include "controller/controller_metrics.h"
#include "controller/faults.h"
#include "controller/load_session.h"
#include "controller/matrix.h"
#include "controller/spec.h"
#include "controller/store.h"
#include "controller/testbed.h"

namespace rcbench::controller {

struct ProgressEvent {
  rcbench::v1::Run run;  // with its final status
  int done = 0;          // finished runs (including ones finished before this invocation)
  int total = 0;
  std::chrono::nanoseconds eta{0};
};

struct RunnerOptions {
  std::map<std::string, std::string> tags;
  // The campaign (controller/campaign.h); empty: the default one of the hosts' kernel
  // identity and the tags.
  std::string campaign;
  // Add runs to a campaign recorded on another kernel identity instead of refusing.
  bool allow_kernel_change = false;
  LeaseOptions lease;
  // Attempts per run (after the last --retry-failed); at least 1.
  int max_attempts = 3;
  // How long to wait for every host to answer before an attempt.
  std::chrono::nanoseconds host_wait{std::chrono::seconds(60)};
  // How often HostWatch probes the hosts and the server during an attempt, and each probe's
  // deadline: a loss is seen within their sum.
  std::chrono::milliseconds probe_every{500};
  std::chrono::milliseconds probe_deadline{1000};
  // FAILED runs get a new budget of attempts.
  bool retry_failed = false;
  // Stop after this many runs were executed (tests); negative: no limit.
  int max_runs = -1;
  std::function<void(const ProgressEvent&)> on_progress;
  // What the user should see at the default log level: losses and redos, waiting for hosts,
  // interrupted runs, clean-ups.
  std::function<void(const std::string&)> on_message;
  // Each phase as it starts ("run 3/6 attempt 1 of 3: measure"); on_message when unset.
  std::function<void(const std::string&)> on_phase;
  // Set from a signal handler to stop after tearing the current run down.
  std::atomic<bool>* stop_requested = nullptr;
  // Executes the program of a micro-benchmark experiment (spec `benchmark`); such runs fail
  // when it is null. Not owned.
  BenchmarkExecutor* benchmarks = nullptr;
};

struct RunSummary {
  int total = 0;
  int completed = 0;
  int failed = 0;
  int skipped = 0;  // already finished before this invocation
  int executed = 0;
  int redone_attempts = 0;  // attempts lost to the infrastructure and redone
  bool stopped = false;     // stop_requested or max_runs reached
  uint64_t seed = 0;
  std::string campaign;
  bool new_campaign = false;
};

// Keeps one agent's usage stream open for the lifetime of the object.
class UsageCollector {
 public:
  // `on_connected(up, why)` is called when the stream (re)connects and when it breaks.
  UsageCollector(AgentClient& agent, Clock& clock,
                 std::function<void(bool, const absl::Status&)> on_connected = {});
  ~UsageCollector();
  // Reports whose sample time lies in [from, to] (wall clock, ms since the epoch).
  std::vector<rcbench::v1::UsageReport> Between(int64_t from_ms, int64_t to_ms) const;
  uint64_t last_sequence() const;
  const AgentClient* agent() const { return &agent_; }
  int reconnects() const { return reconnects_.load(); }
  // Drops reports older than `before_ms`.
  void Trim(int64_t before_ms);

 private:
  void Loop();
  AgentClient& agent_;
  Clock& clock_;
  std::function<void(bool, const absl::Status&)> on_connected_;
  mutable std::mutex mu_;
  std::deque<rcbench::v1::UsageReport> reports_;
  std::string instance_;
  uint64_t last_sequence_ = 0;
  std::unique_ptr<Stream<rcbench::v1::UsageReport>> stream_;
  std::atomic<bool> stop_{false};
  std::atomic<int> reconnects_{0};
  std::thread thread_;
};

// Per-class results over [start, end] from interval reports (interval end inside the window);
// when none fall inside, from `totals` (the whole load run).
std::vector<rcbench::v1::ClassResult> ComputeClassResults(
    const std::vector<rcbench::v1::StatsReport>& reports,
    const std::vector<rcbench::v1::ClassStats>& totals, int64_t start_ms, int64_t end_ms);

// Per-container usage over [start, end] from an agent's cumulative samples.
std::vector<rcbench::v1::ContainerResult> ComputeContainerResults(
    const std::string& host, const std::vector<rcbench::v1::UsageReport>& reports, int64_t start_ms,
    int64_t end_ms);

class ExperimentRunner {
 public:
  // All references must outlive the runner. `metrics` may be null.
  ExperimentRunner(const ExperimentSpec& spec, ResultStore& store, Testbed& testbed, Clock& clock,
                   ControllerMetrics* metrics, RunnerOptions options);

  absl::StatusOr<RunSummary> Run();

 private:
  struct Attempt;  // one attempt's state (runner.cc)

  // Tries `run` until it completes, fails for good, or its attempts run out (`used` of them
  // are gone already). UNAVAILABLE when the hosts stayed away longer than host_wait (the run
  // stays PENDING).
  absl::StatusOr<RunOutcome> RunWithAttempts(const PlannedRun& run, const std::string& label,
                                             int used);
  // Waits for every host to answer (and, in local mode, restarts dead children).
  absl::Status WaitForHosts();
  // Stops the services and removes the containers that `run_id` owns on every agent.
  void ReleaseLeftovers(const std::string& run_id);
  RunOutcome ExecuteAttempt(const PlannedRun& run, const std::string& label);

  // The phases of an attempt.
  absl::Status Setup(Attempt& a);
  absl::Status RunBenchmark(Attempt& a);
  absl::Status StartLoad(Attempt& a);
  absl::Status Warmup(Attempt& a);
  absl::Status Measure(Attempt& a);
  absl::Status Cooldown(Attempt& a);
  void Teardown(Attempt& a, bool failed);
  void Collect(Attempt& a);

  // All hosts answer and nothing was lost; the error names what was.
  absl::Status Barrier(Attempt& a, const char* at);
  // Sleeps `d` unless a loss or a stop request comes first.
  absl::Status Wait(Attempt& a, std::chrono::nanoseconds d, const char* during);
  void Phase(Attempt& a, const char* name);
  std::vector<ProbeTarget> HostTargets();
  ProbeTarget ServerTarget(Attempt& a);
  void RefreshCollectors();
  void Message(const std::string& text);
  bool StopRequested() const;

  RunnerOptions options_;
  const ExperimentSpec& spec_;
  ResultStore& store_;
  Testbed& testbed_;
  Clock& clock_;
  ControllerMetrics* metrics_;
  std::map<std::string, std::unique_ptr<UsageCollector>> collectors_;
  // The current attempt's monitor (null between attempts): usage streams report to it.
  std::mutex faults_mu_;
  FaultMonitor* current_faults_ = nullptr;
};

// Chooses and records the seed: the stored one on resume, else the spec's, else a random one.
absl::StatusOr<uint64_t> ResolveSeed(const ExperimentSpec& spec, ResultStore& store);

}  // namespace rcbench::controller
