#include "controller/runner.h"

#include <algorithm>
#include <condition_variable>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/runner_attempt.h"
#include "controller/spec_render.h"
#include "controller/template.h"

namespace rcbench::controller {

using runner_internal::NowMs;
using runner_internal::WallMs;

absl::StatusOr<uint64_t> ResolveSeed(const ExperimentSpec& spec, ResultStore& store) {
  RCBENCH_ASSIGN_OR_RETURN(auto stored, store.GetExperiment(spec.name));
  if (stored) return stored->seed;
  if (spec.seed_given) return spec.seed;
  std::random_device rd;
  // SQLite integers are signed 64-bit: keep the seed in range so it round-trips.
  return ((static_cast<uint64_t>(rd()) << 32) | rd()) & 0x7fffffffffffffffull;
}

ExperimentRunner::ExperimentRunner(const ExperimentSpec& spec, ResultStore& store, Testbed& testbed,
                                   Clock& clock, ControllerMetrics* metrics, RunnerOptions options)
    : options_(std::move(options)),
      spec_(spec),
      store_(store),
      testbed_(testbed),
      clock_(clock),
      metrics_(metrics) {
  options_.max_attempts = std::max(1, options_.max_attempts);
}

void ExperimentRunner::Message(const std::string& text) {
  RCBENCH_LOG(DEBUG) << text;
  if (options_.on_message) options_.on_message(text);
}

bool ExperimentRunner::StopRequested() const {
  return options_.stop_requested != nullptr && options_.stop_requested->load();
}

void ExperimentRunner::RefreshCollectors() {
  // (Re)subscribes to every agent whose client is new (a restarted local child).
  for (const auto& name : testbed_.agent_names()) {
    AgentClient* agent = testbed_.agent(name);
    auto it = collectors_.find(name);
    if (it != collectors_.end() && it->second->agent() == agent) continue;
    collectors_.erase(name);
    if (agent == nullptr) continue;
    collectors_[name] = std::make_unique<UsageCollector>(
        *agent, clock_, [this, name](bool up, const absl::Status& why) {
          if (metrics_) metrics_->SetHostUp(name, "agent", up);
          if (up) return;
          std::lock_guard<std::mutex> lock(faults_mu_);
          if (current_faults_ != nullptr) {
            current_faults_->Report(
                name, absl::StrCat("agent ", name, " lost: usage stream: ", why.message()));
          }
        });
  }
}

std::vector<ProbeTarget> ExperimentRunner::HostTargets() {
  std::vector<ProbeTarget> targets;
  const auto deadline = options_.probe_deadline;
  for (const auto& name : testbed_.agent_names()) {
    AgentClient* a = testbed_.agent(name);
    if (a == nullptr) continue;
    targets.push_back({name, "agent " + name, [a, deadline] { return a->Probe(deadline); }, {}});
  }
  for (const auto& name : testbed_.loadgen_names()) {
    LoadGenClient* l = testbed_.loadgen(name);
    if (l == nullptr) continue;
    targets.push_back(
        {name, "load generator " + name, [l, deadline] { return l->Probe(deadline); }, {}});
  }
  return targets;
}

absl::Status ExperimentRunner::WaitForHosts() {
  const int64_t begin = clock_.MonotonicNanos();
  const int64_t wait_s =
      std::chrono::duration_cast<std::chrono::seconds>(options_.host_wait).count();
  int64_t next_message = begin;
  while (true) {
    absl::Status up = testbed_.Start();
    if (up.ok()) {
      RefreshCollectors();
      if (next_message != begin) Message("all hosts answer again");
      return up;
    }
    // Wrong credentials, a refused token, a bad address: waiting will not help.
    if (up.code() != absl::StatusCode::kUnavailable &&
        up.code() != absl::StatusCode::kDeadlineExceeded) {
      return up;
    }
    const int64_t now = clock_.MonotonicNanos();
    const int64_t waited_s = (now - begin) / 1'000'000'000;
    if (now - begin >= options_.host_wait.count() || StopRequested()) {
      return absl::UnavailableError(
          absl::StrCat("hosts did not answer within ", wait_s, " s (--host-wait): ", up.message()));
    }
    if (now >= next_message) {
      // Name the hosts that are away, not just the first error.
      FaultMonitor probe;
      ProbeTargets(HostTargets(), probe);
      std::vector<std::string> down;
      for (const auto& name : testbed_.agent_names()) {
        if (probe.HostLost(name)) down.push_back(name);
      }
      for (const auto& name : testbed_.loadgen_names()) {
        if (probe.HostLost(name) && std::find(down.begin(), down.end(), name) == down.end()) {
          down.push_back(name);
        }
      }
      Message(absl::StrCat("waiting for host", down.size() > 1 ? "s " : " ",
                           down.empty() ? std::string("(unknown)") : absl::StrJoin(down, ", "),
                           " (", waited_s, " s of ", wait_s, " s): ", up.message()));
      next_message = now + 5'000'000'000LL;
    }
    clock_.SleepFor(std::chrono::seconds(1));
  }
}

void ExperimentRunner::ReleaseLeftovers(const std::string& run_id) {
  for (const auto& name : testbed_.agent_names()) {
    AgentClient* a = testbed_.agent(name);
    if (a == nullptr) continue;
    auto released = a->ReleaseOwner(run_id);
    if (!released.ok()) {
      RCBENCH_LOG(WARNING) << "agent " << name << ": releasing what run " << run_id
                           << " left: " << released.status();
      continue;
    }
    std::vector<std::string> what;
    for (const auto& s : released->stopped_services()) what.push_back("stopped service " + s);
    for (const auto& c : released->removed_containers()) what.push_back("removed container " + c);
    for (const auto& c : released->kept_containers()) what.push_back("kept container " + c);
    if (!what.empty()) {
      Message(absl::StrCat("agent ", name, ": cleaned up after an earlier attempt of ", run_id,
                           ": ", absl::StrJoin(what, ", ")));
    }
  }
}

absl::StatusOr<RunSummary> ExperimentRunner::Run() {
  RunSummary summary;
  RCBENCH_ASSIGN_OR_RETURN(summary.seed, ResolveSeed(spec_, store_));
  RCBENCH_ASSIGN_OR_RETURN(auto stored, store_.GetExperiment(spec_.name));
  if (stored && stored->spec_yaml != spec_.yaml) {
    Message(absl::StrCat("note: experiment \"", spec_.name,
                         "\" is stored with a different spec text; runs with the same factor "
                         "levels and repetition are treated as the same runs"));
  }
  ExperimentRecord record{spec_.name, spec_.yaml, summary.seed,
                          absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())};
  RCBENCH_RETURN_IF_ERROR(store_.AddExperiment(record, {}));
  auto finish = [&](absl::Status status) -> absl::StatusOr<RunSummary> {
    collectors_.clear();
    testbed_.Stop();
    if (!status.ok()) return status;
    return summary;
  };
  // The campaign needs the hosts' kernels: they must answer first.
  if (absl::Status up = WaitForHosts(); !up.ok()) return finish(up);
  std::map<std::string, rcbench::v1::HostFacts> kernels;
  for (const auto& name : testbed_.agent_names()) {
    auto facts = testbed_.agent(name)->GetHostFacts({});
    if (!facts.ok()) return finish(facts.status());
    kernels[name] = *std::move(facts);
  }
  auto campaign = ResolveCampaign(store_, spec_.name, options_.campaign, kernels, options_.tags,
                                  options_.allow_kernel_change);
  if (!campaign.ok()) return finish(campaign.status());
  summary.campaign = campaign->record.name;
  summary.new_campaign = campaign->created;
  std::vector<PlannedRun> planned = ExpandMatrix(spec_, summary.seed, summary.campaign);
  if (absl::Status s = store_.AddExperiment(record, planned, summary.campaign); !s.ok()) {
    return finish(s);
  }
  Message(absl::StrCat("campaign ", summary.campaign,
                       campaign->created ? " (new)" : " (continuing)", ": kernel ",
                       campaign->record.kernel_identity));
  auto stale = store_.MarkStaleRunsInterrupted(spec_.name);
  if (!stale.ok()) return finish(stale.status());
  if (options_.retry_failed) {
    auto reset = store_.ResetFailedRuns(spec_.name);
    if (!reset.ok()) return finish(reset.status());
    if (*reset > 0)
      Message(absl::StrCat(*reset, " failed run(s) will be retried (--retry-failed)"));
  }
  auto stored_runs = store_.ListRuns(spec_.name);
  if (!stored_runs.ok()) return finish(stored_runs.status());
  std::map<std::string, rcbench::v1::RunStatus> status_of;
  // Attempts each run has had since its last --retry-failed; interrupted ones were the
  // controller's, not the run's, and do not count.
  std::map<std::string, int> attempts_used;
  for (const auto& r : *stored_runs) {
    status_of[r.run_id()] = r.status();
    for (const auto& a : r.attempts()) {
      if (a.attempt() > r.attempts_before_retry() &&
          a.status() != rcbench::v1::RUN_STATUS_INTERRUPTED) {
        ++attempts_used[r.run_id()];
      }
    }
  }
  summary.total = static_cast<int>(planned.size());
  std::vector<const PlannedRun*> todo;
  std::map<std::string, int> position;  // run id -> 1-based position in the matrix
  for (const auto& p : planned) {
    position[p.run_id] = static_cast<int>(position.size()) + 1;
    auto st = status_of[p.run_id];
    if (st == rcbench::v1::RUN_STATUS_COMPLETED || st == rcbench::v1::RUN_STATUS_FAILED) {
      ++summary.skipped;
    } else {
      todo.push_back(&p);
    }
  }
  auto label_of = [&](const std::string& run_id) {
    return absl::StrCat("run ", position[run_id], "/", summary.total);
  };
  // Runs of this campaign that a killed controller left (others' are only marked).
  std::vector<std::string> interrupted;
  for (const std::string& id : *stale) {
    if (position.count(id)) interrupted.push_back(id);
  }
  for (const std::string& id : interrupted) {
    Message(absl::StrCat(label_of(id), " was interrupted: redoing (", id, ")"));
  }
  if (metrics_) metrics_->SetPlanned(spec_.name, summary.total, summary.skipped);
  if (todo.empty()) return finish(absl::OkStatus());
  // What a killed controller left on the agents goes first: its server would hold the port.
  for (const std::string& id : interrupted) ReleaseLeftovers(id);
  const int64_t begin_ns = clock_.MonotonicNanos();
  int executed = 0;
  for (const PlannedRun* run : todo) {
    if (StopRequested() || (options_.max_runs >= 0 && executed >= options_.max_runs)) {
      summary.stopped = true;
      break;
    }
    if (metrics_) metrics_->SetCurrentRun(spec_.name, run->factors);
    auto result = RunWithAttempts(*run, label_of(run->run_id), attempts_used[run->run_id]);
    if (!result.ok()) {
      // The hosts stayed away: this run and the rest stay PENDING for the next invocation.
      return finish(
          absl::Status(result.status().code(),
                       absl::StrCat(label_of(run->run_id), ": ", result.status().message(), "; ",
                                    todo.size() - executed,
                                    " run(s) left pending: `rcbench run` again "
                                    "resumes them once the hosts are back")));
    }
    RunOutcome& outcome = *result;
    if (StopRequested() && outcome.status != rcbench::v1::RUN_STATUS_COMPLETED) {
      // Torn down by a signal: leave it to be redone.
      store_.MarkStaleRunsInterrupted(spec_.name, "stopped by a signal").IgnoreError();
      summary.stopped = true;
      break;
    }
    outcome.finished_at_unix_ms = NowMs(clock_);
    absl::Status s = store_.CompleteRun(outcome);
    if (!s.ok()) {
      // The results did not fit (a full disk) or the store broke. Its transaction rolled back,
      // so every earlier run is intact; this one fails with the store's message if the store
      // can still take that much, and the experiment stops: the next run would fare no better.
      std::string error = absl::StrCat("cannot store the run's results: ", s.message());
      if (s.code() != absl::StatusCode::kAlreadyExists) {
        RunOutcome failed;
        failed.run_id = outcome.run_id;
        failed.status = rcbench::v1::RUN_STATUS_FAILED;
        failed.error = error;
        failed.finished_at_unix_ms = outcome.finished_at_unix_ms;
        store_.CompleteRun(failed).IgnoreError();
      }
      if (metrics_) metrics_->RunFinished(spec_.name, "failed");
      return finish(absl::Status(s.code(), absl::StrCat("run ", run->run_id, ": ", error,
                                                        "; the runs stored before it are intact")));
    }
    ++executed;
    bool ok = outcome.status == rcbench::v1::RUN_STATUS_COMPLETED;
    ok ? ++summary.completed : ++summary.failed;
    if (metrics_) metrics_->RunFinished(spec_.name, ok ? "completed" : "failed");
    if (options_.on_progress) {
      ProgressEvent ev;
      ev.run.set_experiment(spec_.name);
      ev.run.set_run_id(run->run_id);
      ev.run.set_order(run->order);
      ev.run.set_repetition(run->repetition);
      for (const auto& [k, v] : run->factors) (*ev.run.mutable_factors())[k] = v;
      ev.run.set_status(outcome.status);
      ev.run.set_error(outcome.error);
      ev.done = summary.skipped + executed;
      ev.total = summary.total;
      int64_t per_run = (clock_.MonotonicNanos() - begin_ns) / executed;
      ev.eta = std::chrono::nanoseconds(per_run * (static_cast<int64_t>(todo.size()) - executed));
      options_.on_progress(ev);
    }
  }
  summary.executed = executed;
  return finish(absl::OkStatus());
}

absl::StatusOr<RunOutcome> ExperimentRunner::RunWithAttempts(const PlannedRun& run,
                                                             const std::string& label, int used) {
  for (;; ++used) {
    const std::string this_label =
        absl::StrCat(label, " attempt ", used + 1, " of ", options_.max_attempts);
    RCBENCH_RETURN_IF_ERROR(WaitForHosts());
    RunOutcome outcome = ExecuteAttempt(run, this_label);
    if (outcome.status == rcbench::v1::RUN_STATUS_COMPLETED || StopRequested()) return outcome;
    if (!outcome.infrastructure) {
      Message(absl::StrCat(this_label, ": failed: ", outcome.error));
      return outcome;
    }
    if (used + 1 >= options_.max_attempts) {
      Message(absl::StrCat(this_label, ": ", outcome.error, "; no attempts left (--max-attempts ",
                           options_.max_attempts, "; `rcbench run --retry-failed` redoes it)"));
      outcome.error = absl::StrCat("after ", used + 1, " attempt(s): ", outcome.error);
      return outcome;
    }
    Message(absl::StrCat(this_label, ": ", outcome.error, "; redoing"));
    RCBENCH_RETURN_IF_ERROR(store_.RetryLater(run.run_id, outcome.error, NowMs(clock_)));
    if (metrics_) metrics_->AttemptRedone(spec_.name);
  }
}

}  // namespace rcbench::controller
