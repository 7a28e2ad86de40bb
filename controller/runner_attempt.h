#pragma once

// Private to ExperimentRunner (runner*.cc): an attempt's state and the time helpers its files
// share. runner.cc holds the orchestration (seed, hosts, runs and their attempts);
// runner_phases.cc one method per phase of an attempt; runner_results.cc the agent's usage
// stream and the per-class and per-container results of a run.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controller/faults.h"
#include "controller/load_session.h"
#include "controller/matrix.h"
#include "controller/runner.h"
#include "controller/spec_render.h"
#include "controller/store.h"
#include "controller/template.h"

namespace rcbench::controller {

// One attempt at a run: what it made (to undo in teardown) and what it measured.
struct ExperimentRunner::Attempt {
  const PlannedRun* run = nullptr;
  std::string label;  // "run 3/6 attempt 1 of 3"
  TemplateVars vars;
  RunOutcome outcome;
  FaultMonitor faults;
  std::unique_ptr<HostWatch> watch;
  std::vector<std::unique_ptr<LoadSession>> sessions;
  std::vector<RenderedContainer> created;
  std::set<std::string> sysctl_agents;
  bool server_started = false;
  std::mutex server_check_mu;  // Testbed::CheckServer from the barrier and HostWatch
  int64_t run_start_ms = 0;
  int64_t measure_start_ms = 0;
  int64_t measure_end_ms = 0;
};

namespace runner_internal {

inline int64_t WallMs(const rcbench::v1::SampleTime& t) {
  return t.wall().seconds() * 1000 + t.wall().nanos() / 1000000;
}

inline int64_t NowMs(Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

}  // namespace runner_internal
}  // namespace rcbench::controller
