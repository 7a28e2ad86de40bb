#pragma once

// Executes an experiment's matrix on a testbed and writes each run's outcome to the store.
//
// Per run: health checks of every host, host facts, sysctls, containers, the server, then the
// phases setup -> warm-up -> measure -> cool-down with a barrier (all hosts healthy, server up,
// no lease lost) at each boundary, then teardown on every path. A micro-benchmark experiment
// (spec `benchmark`) runs its program through the BenchmarkExecutor after setup instead of a
// server and load, and stores the program's parsed output with the run's completion. A host lost
// mid-run fails that run with the reason and the matrix goes on. Runs already COMPLETED or FAILED
// in the store are skipped; runs a killed controller left RUNNING are marked INTERRUPTED and
// redone. A run whose results the store cannot take (a full disk: RESOURCE_EXHAUSTED) is
// marked FAILED with the store's message when possible, and Run() stops with that error; the
// runs stored before it are intact.
//
// Telemetry: one thread per agent stays subscribed to its usage stream for the whole
// experiment, resuming after the last sequence it saw when the stream breaks; one thread per
// load generator reads its statistics during a run (live metrics, per-class results).
// Run() is called from one thread, which must outlive any local-mode children.

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
#include "controller/clients.h"
#include "controller/controller_metrics.h"
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
  std::chrono::nanoseconds lease{std::chrono::seconds(10)};
  std::chrono::milliseconds lease_renew_every{3000};
  // Stop after this many runs were executed (tests); negative: no limit.
  int max_runs = -1;
  std::function<void(const ProgressEvent&)> on_progress;
  std::function<void(const std::string&)> on_message;
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
  bool stopped = false;  // stop_requested or max_runs reached
  uint64_t seed = 0;
};

// Keeps one agent's usage stream open for the lifetime of the object.
class UsageCollector {
 public:
  UsageCollector(AgentClient& agent, Clock& clock, std::function<void(bool)> on_connected = {});
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
  std::function<void(bool)> on_connected_;
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
  RunnerOptions options_;
  const ExperimentSpec& spec_;
  ResultStore& store_;
  Testbed& testbed_;
  Clock& clock_;
  ControllerMetrics* metrics_;
  std::map<std::string, std::unique_ptr<UsageCollector>> collectors_;

  RunOutcome Execute(const PlannedRun& run);
  void Message(const std::string& text);
  bool StopRequested() const;
};

// Chooses and records the seed: the stored one on resume, else the spec's, else a random one.
absl::StatusOr<uint64_t> ResolveSeed(const ExperimentSpec& spec, ResultStore& store);

}  // namespace rcbench::controller
