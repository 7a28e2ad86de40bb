#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/benchmark_json.h"
#include "controller/runner.h"
#include "controller/runner_attempt.h"
#include "controller/spec_render.h"

namespace rcbench::controller {

using runner_internal::NowMs;
using runner_internal::WallMs;

void ExperimentRunner::Phase(Attempt& a, const char* name) {
  if (metrics_) metrics_->SetPhase(spec_.name, name);
  std::string text = absl::StrCat(a.label, ": ", name);
  RCBENCH_LOG(DEBUG) << text;
  if (options_.on_phase) {
    options_.on_phase(text);
  } else if (options_.on_message) {
    options_.on_message(text);
  }
}

ProbeTarget ExperimentRunner::ServerTarget(Attempt& a) {
  // The server's agent tells a crash of the server (final) from a lost host (redone).
  AgentClient* host = testbed_.agent(ServerAgentName(spec_));
  const auto deadline = options_.probe_deadline;
  return {ServerAgentName(spec_), "server",
          [this, &a] {
            std::lock_guard<std::mutex> lock(a.server_check_mu);
            return testbed_.CheckServer();
          },
          [host, deadline] {
            return host ? host->Probe(deadline) : absl::NotFoundError("no agent for the server");
          }};
}

absl::Status ExperimentRunner::Barrier(Attempt& a, const char* at) {
  std::vector<ProbeTarget> targets = HostTargets();
  if (a.server_started) targets.push_back(ServerTarget(a));
  ProbeTargets(targets, a.faults);
  if (auto f = a.faults.failure()) {
    return absl::UnavailableError(absl::StrCat(f->reason, " (", at, ")"));
  }
  return absl::OkStatus();
}

absl::Status ExperimentRunner::Wait(Attempt& a, std::chrono::nanoseconds d, const char* during) {
  const int64_t end = clock_.MonotonicNanos() + d.count();
  while (true) {
    if (auto f = a.faults.failure()) return absl::UnavailableError(f->reason);
    if (StopRequested()) return absl::AbortedError(absl::StrCat("stopped during ", during));
    int64_t left = end - clock_.MonotonicNanos();
    if (left <= 0) return absl::OkStatus();
    clock_.SleepFor(std::chrono::nanoseconds(std::min<int64_t>(left, 50'000'000)));
  }
}

RunOutcome ExperimentRunner::ExecuteAttempt(const PlannedRun& run, const std::string& label) {
  Attempt a;
  a.run = &run;
  a.label = label;
  a.faults.set_clock(&clock_);
  a.outcome.run_id = run.run_id;
  a.run_start_ms = NowMs(clock_);
  auto marked = store_.MarkRunning(run.run_id, a.run_start_ms, options_.tags);
  if (!marked.ok()) {
    a.outcome.status = rcbench::v1::RUN_STATUS_FAILED;
    a.outcome.error = std::string(marked.status().message());
    return a.outcome;
  }
  for (const auto& [k, v] : run.factors) a.vars[k] = v;
  a.vars["run.repetition"] = absl::StrCat(run.repetition);
  a.vars["run.id"] = run.run_id;
  {
    std::lock_guard<std::mutex> lock(faults_mu_);
    current_faults_ = &a.faults;
  }
  a.watch = std::make_unique<HostWatch>(HostTargets(), a.faults, clock_, options_.probe_every);

  absl::Status result = Setup(a);
  if (result.ok() && spec_.benchmark) {
    result = RunBenchmark(a);
  } else if (result.ok()) {
    result = StartLoad(a);
    if (result.ok()) result = Warmup(a);
    if (result.ok()) result = Measure(a);
    if (result.ok()) result = Cooldown(a);
  }
  // A failure that a loss explains is that loss (its message names the host).
  std::optional<AttemptFailure> loss = a.faults.failure();
  if (!result.ok() && !loss && !StopRequested()) {
    // An error from a host: the infrastructure's if a host is gone now.
    ProbeTargets(HostTargets(), a.faults);
    if (auto f = a.faults.failure()) {
      loss = AttemptFailure{absl::StrCat(f->reason, " (", result.message(), ")"), true};
    }
  }
  a.watch->Stop();
  {
    std::lock_guard<std::mutex> lock(faults_mu_);
    current_faults_ = nullptr;
  }
  Teardown(a, !result.ok());
  if (!result.ok()) {
    a.outcome.status = rcbench::v1::RUN_STATUS_FAILED;
    a.outcome.error = loss ? loss->reason : std::string(result.message());
    a.outcome.infrastructure = loss ? loss->infrastructure : false;
    a.outcome.hosts.clear();
    return a.outcome;
  }
  Collect(a);
  return a.outcome;
}

absl::Status ExperimentRunner::Setup(Attempt& a) {
  Phase(a, "setup");
  ReleaseLeftovers(a.run->run_id);
  RCBENCH_RETURN_IF_ERROR(Barrier(a, "before the run"));
  if (spec_.Records("host_facts")) {
    for (const auto& name : testbed_.agent_names()) {
      RCBENCH_ASSIGN_OR_RETURN(a.outcome.hosts[name],
                               testbed_.agent(name)->GetHostFacts(spec_.facts_sysctls));
    }
  }
  const std::string server_agent_name = ServerAgentName(spec_);
  RCBENCH_ASSIGN_OR_RETURN(auto sysctls, RenderSysctls(spec_, a.vars));
  for (const auto& [name, value] : sysctls) {
    AgentClient* agent = testbed_.agent(server_agent_name);
    if (agent == nullptr) return absl::NotFoundError("no agent " + server_agent_name);
    a.sysctl_agents.insert(server_agent_name);
    RCBENCH_RETURN_IF_ERROR(agent->SetSysctl(name, value));
  }
  RCBENCH_ASSIGN_OR_RETURN(auto containers, RenderContainers(spec_, a.vars));
  for (const auto& c : containers) {
    AgentClient* agent = testbed_.agent(c.agent);
    if (agent == nullptr) return absl::NotFoundError("no agent " + c.agent);
    RCBENCH_RETURN_IF_ERROR(agent->CreateContainer(c.path, c.attributes, a.run->run_id).status());
    a.created.push_back(c);
  }
  if (spec_.server) {
    RCBENCH_ASSIGN_OR_RETURN(auto args, RenderServerArgs(spec_, a.vars));
    RCBENCH_ASSIGN_OR_RETURN(auto classes, RenderServerClasses(spec_, a.vars));
    ServerLaunch launch{args, classes, spec_.server->ready_timeout, a.run->run_id};
    a.server_started = true;
    RCBENCH_ASSIGN_OR_RETURN(TemplateVars server_vars, testbed_.StartServer(launch));
    for (const auto& [k, v] : server_vars) a.vars[k] = v;
  }
  return Wait(a, spec_.phases.setup, "setup");
}

absl::Status ExperimentRunner::RunBenchmark(Attempt& a) {
  if (options_.benchmarks == nullptr) {
    return absl::FailedPreconditionError("no benchmark executor (benchmarks need local mode)");
  }
  RCBENCH_ASSIGN_OR_RETURN(auto args, RenderBenchmarkArgs(spec_, a.vars));
  Phase(a, "measure");
  a.measure_start_ms = NowMs(clock_);
  auto json = options_.benchmarks->Run({args, spec_.benchmark->timeout, a.run->run_id},
                                       [this, &a] { return StopRequested() || a.faults.failed(); });
  a.measure_end_ms = NowMs(clock_);
  if (!json.ok()) return json.status();
  auto parsed = ParseGoogleBenchmarkJson(*json);
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(spec_.benchmark->binary, ": ", parsed.status().message()));
  }
  a.outcome.benchmarks = *std::move(parsed);
  return Barrier(a, "after the benchmark");
}

absl::Status ExperimentRunner::StartLoad(Attempt& a) {
  // The load runs through warm-up and measurement; the generator's own bound is a safety
  // net a few seconds later (we stop it explicitly), and the lease stops it sooner if this
  // controller goes away.
  auto load_duration = spec_.phases.warmup + spec_.phases.measure + std::chrono::seconds(5);
  RCBENCH_ASSIGN_OR_RETURN(auto workloads, RenderWorkloads(spec_, a.vars, load_duration));
  for (auto& [name, workload] : workloads) {
    LoadGenClient* client = testbed_.loadgen(name);
    if (client == nullptr) return absl::NotFoundError("no load generator " + name);
    auto session =
        std::make_unique<LoadSession>(name, *client, clock_, options_.lease, a.faults, metrics_);
    RCBENCH_RETURN_IF_ERROR(session->Configure(workload));
    a.sessions.push_back(std::move(session));
  }
  // From now on the server is watched too.
  if (a.server_started) a.watch->Add(ServerTarget(a));
  Phase(a, "warmup");
  // Barrier: every generator starts before the warm-up clock runs.
  for (auto& s : a.sessions) RCBENCH_RETURN_IF_ERROR(s->Start());
  return absl::OkStatus();
}

absl::Status ExperimentRunner::Warmup(Attempt& a) {
  RCBENCH_RETURN_IF_ERROR(Wait(a, spec_.phases.warmup, "warm-up"));
  return Barrier(a, "at the start of the measurement");
}

absl::Status ExperimentRunner::Measure(Attempt& a) {
  Phase(a, "measure");
  a.measure_start_ms = NowMs(clock_);
  RCBENCH_RETURN_IF_ERROR(Wait(a, spec_.phases.measure, "measurement"));
  a.measure_end_ms = NowMs(clock_);
  return Barrier(a, "at the end of the measurement");
}

absl::Status ExperimentRunner::Cooldown(Attempt& a) {
  Phase(a, "cooldown");
  for (auto& s : a.sessions) RCBENCH_RETURN_IF_ERROR(s->Stop());
  return Wait(a, spec_.phases.cooldown, "cool-down");
}

void ExperimentRunner::Teardown(Attempt& a, bool failed) {
  Phase(a, "teardown");
  for (auto& s : a.sessions) s->Close(/*abort=*/failed);
  // Hosts known lost are not waited on: the next attempt (ReleaseLeftovers) or the restarted
  // agent (its reconcile) removes what is left there.
  const std::string server_agent = ServerAgentName(spec_);
  if (a.server_started && !a.faults.HostLost(server_agent)) {
    absl::Status s = testbed_.StopServer();
    if (!s.ok()) {
      RCBENCH_LOG(WARNING) << "stopping the server: " << s;
    }
  }
  for (auto it = a.created.rbegin(); it != a.created.rend(); ++it) {
    AgentClient* agent = testbed_.agent(it->agent);
    if (agent == nullptr || a.faults.HostLost(it->agent)) continue;
    absl::Status s = agent->DeleteContainer(it->path);
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
      RCBENCH_LOG(WARNING) << "deleting container " << it->path << ": " << s;
    }
  }
  for (const auto& name : a.sysctl_agents) {
    AgentClient* agent = testbed_.agent(name);
    if (agent != nullptr && !a.faults.HostLost(name)) agent->RestoreSysctls().IgnoreError();
  }
}

void ExperimentRunner::Collect(Attempt& a) {
  RunOutcome& outcome = a.outcome;
  std::vector<rcbench::v1::StatsReport> all_reports;
  std::vector<rcbench::v1::ClassStats> totals;
  for (auto& s : a.sessions) {
    all_reports.insert(all_reports.end(), s->reports().begin(), s->reports().end());
    totals.insert(totals.end(), s->totals().begin(), s->totals().end());
  }
  if (spec_.Records("classes")) {
    outcome.classes =
        ComputeClassResults(all_reports, totals, a.measure_start_ms, a.measure_end_ms);
  }
  const int64_t run_end_ms = NowMs(clock_);
  const int64_t slack_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(spec_.stats_interval).count() * 2 +
      1000;
  for (auto& [name, collector] : collectors_) {
    // Samples arrive once per interval: wait (briefly) for the one after the window.
    // Real time: this waits for the collector thread, not for the experiment's clock.
    for (int i = 0; i < 60; ++i) {
      auto later = collector->Between(a.measure_end_ms, a.measure_end_ms + 600000);
      if (!later.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto samples = collector->Between(a.run_start_ms - slack_ms, NowMs(clock_));
    if (spec_.Records("containers")) {
      auto results = ComputeContainerResults(name, samples, a.measure_start_ms, a.measure_end_ms);
      outcome.containers.insert(outcome.containers.end(), results.begin(), results.end());
    }
    if (spec_.Records("samples")) {
      for (auto& r : samples) {
        if (WallMs(r.time()) >= a.run_start_ms && WallMs(r.time()) <= run_end_ms + slack_ms) {
          outcome.usage_samples.push_back(std::move(r));
        }
      }
    }
    collector->Trim(a.run_start_ms - 600000);
  }
  if (spec_.Records("samples")) {
    std::set<std::pair<std::string, uint64_t>> seen;
    for (const auto& r : all_reports) {
      if (seen.insert({r.run_id(), r.sequence()}).second) outcome.load_samples.push_back(r);
    }
  }
  // Usage samples from several agents may share a sequence number: keep one per (host, seq).
  std::set<std::pair<std::string, uint64_t>> seen_usage;
  std::vector<rcbench::v1::UsageReport> unique_usage;
  for (auto& r : outcome.usage_samples) {
    std::string src = r.containers_size() ? r.containers(0).id().host() : r.agent_instance();
    if (seen_usage.insert({src, r.sequence()}).second) unique_usage.push_back(std::move(r));
  }
  outcome.usage_samples = std::move(unique_usage);
}

}  // namespace rcbench::controller
