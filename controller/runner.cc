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
#include "controller/benchmark_json.h"
#include "controller/histogram_math.h"
#include "controller/template.h"
#include "controller/workload.h"

namespace rcbench::controller {
namespace {

int64_t WallMs(const rcbench::v1::SampleTime& t) {
  return t.wall().seconds() * 1000 + t.wall().nanos() / 1000000;
}

int64_t NowMs(Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

void AddErrors(const rcbench::v1::ErrorCounts& from, rcbench::v1::ErrorCounts* into) {
  into->set_connect_timeout(into->connect_timeout() + from.connect_timeout());
  into->set_connect_refused(into->connect_refused() + from.connect_refused());
  into->set_reset(into->reset() + from.reset());
  into->set_response_timeout(into->response_timeout() + from.response_timeout());
  into->set_non_2xx(into->non_2xx() + from.non_2xx());
  into->set_parse_error(into->parse_error() + from.parse_error());
  into->set_late_send(into->late_send() + from.late_send());
  into->set_local(into->local() + from.local());
}

double IntervalSeconds(const rcbench::v1::ClassStats& s) {
  int64_t mono = s.interval_end().monotonic_ns() - s.interval_start().monotonic_ns();
  if (mono > 0) return mono / 1e9;
  return (WallMs(s.interval_end()) - WallMs(s.interval_start())) / 1e3;
}

// `generator_cpu_s`: the class's generator's CPU over `seconds`; `generator_ok`: what that
// generator completed meanwhile, over all its classes.
rcbench::v1::ClassResult Summarize(const std::string& name, uint64_t ok, double seconds,
                                   const rcbench::v1::ErrorCounts& errors,
                                   const rcbench::v1::LatencyHistogram& h, double generator_cpu_s,
                                   uint64_t generator_ok) {
  rcbench::v1::ClassResult r;
  r.set_class_name(name);
  r.set_throughput_rps(seconds > 0 ? ok / seconds : 0);
  r.set_generator_cpu_cores(seconds > 0 ? generator_cpu_s / seconds : 0);
  r.set_generator_cpu_us_per_request(generator_ok > 0 ? generator_cpu_s * 1e6 / generator_ok : 0);
  r.set_latency_p50_us(HistogramQuantileNs(h, 0.50) / 1e3);
  r.set_latency_p90_us(HistogramQuantileNs(h, 0.90) / 1e3);
  r.set_latency_p99_us(HistogramQuantileNs(h, 0.99) / 1e3);
  r.set_latency_p999_us(HistogramQuantileNs(h, 0.999) / 1e3);
  r.set_latency_max_us(static_cast<double>(h.max_ns()) / 1e3);
  *r.mutable_errors() = errors;
  *r.mutable_latency() = h;
  return r;
}

}  // namespace

UsageCollector::UsageCollector(AgentClient& agent, Clock& clock,
                               std::function<void(bool, const absl::Status&)> on_connected)
    : agent_(agent),
      clock_(clock),
      on_connected_(std::move(on_connected)),
      thread_([this] { Loop(); }) {}

UsageCollector::~UsageCollector() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stream_) stream_->Cancel();
  }
  thread_.join();
}

void UsageCollector::Loop() {
  auto backoff = std::chrono::milliseconds(200);
  while (!stop_) {
    uint64_t resume;
    {
      std::lock_guard<std::mutex> lock(mu_);
      resume = last_sequence_;
      stream_ = agent_.SubscribeUsage(resume);
      if (stop_) stream_->Cancel();
    }
    rcbench::v1::UsageReport report;
    bool got_any = false;
    while (stream_->Read(&report)) {
      if (!got_any && on_connected_) on_connected_(true, absl::OkStatus());
      got_any = true;
      backoff = std::chrono::milliseconds(200);
      for (auto& c : *report.mutable_containers()) c.mutable_id()->set_host(agent_.host());
      std::lock_guard<std::mutex> lock(mu_);
      if (!instance_.empty() && report.agent_instance() != instance_) {
        // The agent restarted: its sequences start again from 1.
        RCBENCH_LOG(WARNING) << agent_.host() << ": agent restarted; usage counters reset";
      } else if (report.sequence() <= last_sequence_ && instance_ == report.agent_instance()) {
        continue;  // already have it
      }
      instance_ = report.agent_instance();
      last_sequence_ = report.sequence();
      reports_.push_back(report);
      if (reports_.size() > 100000) reports_.pop_front();
    }
    absl::Status s = stream_->Finish();
    if (stop_) break;
    if (on_connected_) {
      on_connected_(false, s.ok() ? absl::UnavailableError("the agent ended the stream") : s);
    }
    RCBENCH_LOG(DEBUG) << agent_.host() << ": usage stream ended (" << s
                       << "); resuming after sequence " << last_sequence_;
    ++reconnects_;
    // Real time, not the injected clock: this is a background retry loop.
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

std::vector<rcbench::v1::UsageReport> UsageCollector::Between(int64_t from_ms,
                                                              int64_t to_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<rcbench::v1::UsageReport> out;
  for (const auto& r : reports_) {
    int64_t t = WallMs(r.time());
    if (t >= from_ms && t <= to_ms) out.push_back(r);
  }
  return out;
}

uint64_t UsageCollector::last_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_sequence_;
}

void UsageCollector::Trim(int64_t before_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!reports_.empty() && WallMs(reports_.front().time()) < before_ms) reports_.pop_front();
}

std::vector<rcbench::v1::ClassResult> ComputeClassResults(
    const std::vector<rcbench::v1::StatsReport>& reports,
    const std::vector<rcbench::v1::ClassStats>& totals, int64_t start_ms, int64_t end_ms) {
  struct Acc {
    uint64_t ok = 0;
    double seconds = 0;
    rcbench::v1::ErrorCounts errors;
    rcbench::v1::LatencyHistogram latency;
    double generator_cpu_s = 0;
    uint64_t generator_ok = 0;
  };
  // A flood's class has no requests: its throughput is the SYN packets sent per second.
  auto done = [](const rcbench::v1::ClassStats& c) {
    return c.requests_ok() + c.syn_packets_sent();
  };
  std::map<std::string, Acc> acc;
  for (const auto& report : reports) {
    // One report is one generator's interval: every class in it carries the generator's CPU.
    uint64_t report_ok = 0;
    for (const auto& c : report.classes()) report_ok += done(c);
    for (const auto& c : report.classes()) {
      int64_t end = WallMs(c.interval_end());
      // An interval belongs to the window when it ends inside it (the first one may start up
      // to one interval before: the window is aligned to the interval grid).
      if (end <= start_ms || end > end_ms + 200) continue;
      Acc& a = acc[c.class_name()];
      a.ok += done(c);
      a.seconds += IntervalSeconds(c);
      AddErrors(c.errors(), &a.errors);
      MergeHistogram(c.latency(), &a.latency).IgnoreError();
      a.generator_cpu_s += c.generator_cpu_ns() / 1e9;
      a.generator_ok += report_ok;
    }
  }
  std::vector<rcbench::v1::ClassResult> out;
  if (!acc.empty()) {
    for (const auto& [name, a] : acc) {
      out.push_back(
          Summarize(name, a.ok, a.seconds, a.errors, a.latency, a.generator_cpu_s, a.generator_ok));
    }
    return out;
  }
  for (const auto& t : totals) {
    out.push_back(Summarize(t.class_name(), done(t), IntervalSeconds(t), t.errors(), t.latency(),
                            t.generator_cpu_ns() / 1e9, done(t)));
  }
  return out;
}

std::vector<rcbench::v1::ContainerResult> ComputeContainerResults(
    const std::string& host, const std::vector<rcbench::v1::UsageReport>& reports, int64_t start_ms,
    int64_t end_ms) {
  struct Point {
    int64_t wall_ms;
    int64_t mono_ns;
    const rcbench::v1::ContainerUsage* usage;
  };
  std::map<std::string, std::vector<Point>> by_path;
  for (const auto& r : reports) {
    for (const auto& c : r.containers()) {
      const auto& t = c.has_time() ? c.time() : r.time();
      by_path[c.id().path()].push_back({WallMs(t), t.monotonic_ns(), &c});
    }
  }
  std::vector<rcbench::v1::ContainerResult> out;
  for (auto& [path, points] : by_path) {
    std::sort(points.begin(), points.end(),
              [](const Point& a, const Point& b) { return a.wall_ms < b.wall_ms; });
    // First sample at or after the start and last at or before the end; widen to the
    // neighbours when the window holds fewer than two samples.
    int first = -1, last = -1;
    for (int i = 0; i < static_cast<int>(points.size()); ++i) {
      if (points[i].wall_ms >= start_ms && first < 0) first = i;
      if (points[i].wall_ms <= end_ms) last = i;
    }
    if (first < 0 || last < 0 || last <= first) {
      first = 0;
      last = -1;
      for (int i = 0; i < static_cast<int>(points.size()); ++i) {
        if (points[i].wall_ms <= start_ms) first = i;
        if (points[i].wall_ms >= end_ms && last < 0) last = i;
      }
      if (last < 0) last = static_cast<int>(points.size()) - 1;
    }
    if (last <= first) continue;
    const Point& a = points[first];
    const Point& b = points[last];
    double window_s = (b.mono_ns - a.mono_ns) / 1e9;
    if (window_s <= 0) window_s = (b.wall_ms - a.wall_ms) / 1e3;
    if (window_s <= 0) continue;
    rcbench::v1::ContainerResult res;
    res.mutable_id()->set_host(host);
    res.mutable_id()->set_path(path);
    res.mutable_id()->set_cgroup_id(b.usage->id().cgroup_id());
    uint64_t cpu = b.usage->cpu_usage_ns() >= a.usage->cpu_usage_ns()
                       ? b.usage->cpu_usage_ns() - a.usage->cpu_usage_ns()
                       : 0;
    res.set_cpu_seconds(cpu / 1e9);
    res.set_cpu_cores(res.cpu_seconds() / window_s);
    uint64_t thr = b.usage->cpu_throttled_ns() >= a.usage->cpu_throttled_ns()
                       ? b.usage->cpu_throttled_ns() - a.usage->cpu_throttled_ns()
                       : 0;
    res.set_cpu_throttled_seconds(thr / 1e9);
    uint64_t peak = 0;
    for (int i = first; i <= last; ++i) {
      peak = std::max({peak, points[i].usage->memory_usage_bytes()});
    }
    res.set_memory_peak_bytes(peak);
    out.push_back(std::move(res));
  }
  return out;
}

absl::StatusOr<uint64_t> ResolveSeed(const ExperimentSpec& spec, ResultStore& store) {
  RCBENCH_ASSIGN_OR_RETURN(auto stored, store.GetExperiment(spec.name));
  if (stored) return stored->seed;
  if (spec.seed_given) return spec.seed;
  std::random_device rd;
  // SQLite integers are signed 64-bit: keep the seed in range so it round-trips.
  return ((static_cast<uint64_t>(rd()) << 32) | rd()) & 0x7fffffffffffffffull;
}

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
