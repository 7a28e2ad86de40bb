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

// Sleeps `d` on `clock` in slices, returning early (false) when `abort` says so.
bool SleepUnless(Clock& clock, std::chrono::nanoseconds d, const std::function<bool()>& abort) {
  const int64_t end = clock.MonotonicNanos() + d.count();
  while (true) {
    if (abort()) return false;
    int64_t left = end - clock.MonotonicNanos();
    if (left <= 0) return true;
    clock.SleepFor(std::chrono::nanoseconds(std::min<int64_t>(left, 100'000'000)));
  }
}

// One load generator's part of a run: its workload, lease renewal and statistics stream.
struct LoadSession {
  std::string name;
  LoadGenClient* client = nullptr;
  std::string run_id;
  std::string lease_id;
  std::thread stats_thread;
  std::thread lease_thread;
  std::unique_ptr<Stream<rcbench::v1::StatsReport>> stream;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::vector<rcbench::v1::StatsReport> reports;
  bool final_seen = false;
  std::string lost;  // why this host was lost, empty while fine
  std::vector<rcbench::v1::ClassStats> totals;
};

}  // namespace

UsageCollector::UsageCollector(AgentClient& agent, Clock& clock,
                               std::function<void(bool)> on_connected)
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
      if (!got_any && on_connected_) on_connected_(true);
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
    if (on_connected_) on_connected_(false);
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

ExperimentRunner::ExperimentRunner(const ExperimentSpec& spec, ResultStore& store, Testbed& testbed,
                                   Clock& clock, ControllerMetrics* metrics, RunnerOptions options)
    : options_(std::move(options)),
      spec_(spec),
      store_(store),
      testbed_(testbed),
      clock_(clock),
      metrics_(metrics) {}

void ExperimentRunner::Message(const std::string& text) {
  RCBENCH_LOG(DEBUG) << text;
  if (options_.on_message) options_.on_message(text);
}

bool ExperimentRunner::StopRequested() const {
  return options_.stop_requested != nullptr && options_.stop_requested->load();
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
  std::vector<PlannedRun> planned = ExpandMatrix(spec_, summary.seed);
  ExperimentRecord record{spec_.name, spec_.yaml, summary.seed,
                          absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())};
  RCBENCH_RETURN_IF_ERROR(store_.AddExperiment(record, planned));
  RCBENCH_ASSIGN_OR_RETURN(int interrupted, store_.MarkStaleRunsInterrupted(spec_.name));
  if (interrupted > 0) {
    Message(absl::StrCat(interrupted,
                         " interrupted run(s) from an earlier invocation will be "
                         "redone"));
  }
  RCBENCH_ASSIGN_OR_RETURN(auto stored_runs, store_.ListRuns(spec_.name));
  std::map<std::string, rcbench::v1::RunStatus> status_of;
  for (const auto& r : stored_runs) status_of[r.run_id()] = r.status();
  summary.total = static_cast<int>(planned.size());
  std::vector<const PlannedRun*> todo;
  for (const auto& p : planned) {
    auto st = status_of[p.run_id];
    if (st == rcbench::v1::RUN_STATUS_COMPLETED || st == rcbench::v1::RUN_STATUS_FAILED) {
      ++summary.skipped;
    } else {
      todo.push_back(&p);
    }
  }
  if (metrics_) metrics_->SetPlanned(spec_.name, summary.total, summary.skipped);
  if (todo.empty()) return summary;

  RCBENCH_RETURN_IF_ERROR(testbed_.Start());
  // (Re)subscribes to every agent whose client is new (a restarted local child).
  auto refresh_collectors = [&] {
    for (const auto& name : testbed_.agent_names()) {
      AgentClient* agent = testbed_.agent(name);
      auto it = collectors_.find(name);
      if (it != collectors_.end() && it->second->agent() == agent) continue;
      collectors_.erase(name);
      if (agent == nullptr) continue;
      collectors_[name] = std::make_unique<UsageCollector>(*agent, clock_, [this, name](bool up) {
        if (metrics_) metrics_->SetHostUp(name, "agent", up);
      });
    }
  };
  refresh_collectors();
  const int64_t begin_ns = clock_.MonotonicNanos();
  int executed = 0;
  for (const PlannedRun* run : todo) {
    if (StopRequested() || (options_.max_runs >= 0 && executed >= options_.max_runs)) {
      summary.stopped = true;
      break;
    }
    if (metrics_) metrics_->SetCurrentRun(spec_.name, run->factors);
    RunOutcome outcome;
    // Hosts up before every run: local mode restarts a child that died during the last one.
    absl::Status up = executed == 0 ? absl::OkStatus() : testbed_.Start();
    if (up.ok()) {
      refresh_collectors();
      outcome = Execute(*run);
    } else {
      outcome.run_id = run->run_id;
      outcome.status = rcbench::v1::RUN_STATUS_FAILED;
      outcome.error = absl::StrCat("hosts not available before the run: ", up.message());
    }
    if (StopRequested() && outcome.status != rcbench::v1::RUN_STATUS_COMPLETED) {
      // Torn down by a signal: leave it to be redone.
      store_.MarkStaleRunsInterrupted(spec_.name).IgnoreError();
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
      collectors_.clear();
      testbed_.Stop();
      return absl::Status(s.code(), absl::StrCat("run ", run->run_id, ": ", error,
                                                 "; the runs stored before it are intact"));
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
  collectors_.clear();
  testbed_.Stop();
  return summary;
}

RunOutcome ExperimentRunner::Execute(const PlannedRun& run) {
  RunOutcome outcome;
  outcome.run_id = run.run_id;
  const int64_t run_start_ms = NowMs(clock_);
  absl::Status marked = store_.MarkRunning(run.run_id, run_start_ms, options_.tags);
  if (!marked.ok()) {
    outcome.status = rcbench::v1::RUN_STATUS_FAILED;
    outcome.error = std::string(marked.message());
    return outcome;
  }
  TemplateVars vars;
  for (const auto& [k, v] : run.factors) vars[k] = v;
  vars["run.repetition"] = absl::StrCat(run.repetition);
  vars["run.id"] = run.run_id;
  const std::string server_agent_name = ServerAgentName(spec_);

  std::vector<std::unique_ptr<LoadSession>> sessions;
  std::vector<RenderedContainer> created;
  std::set<std::string> sysctl_agents;
  bool server_started = false;
  std::string failure;

  auto lost_reason = [&]() -> std::string {
    for (auto& s : sessions) {
      std::lock_guard<std::mutex> lock(s->mu);
      if (!s->lost.empty()) return s->lost;
    }
    return "";
  };
  auto check_all = [&](const char* at) -> absl::Status {
    if (std::string lost = lost_reason(); !lost.empty()) {
      return absl::UnavailableError(lost);
    }
    for (const auto& name : testbed_.agent_names()) {
      absl::Status s = testbed_.agent(name)->CheckHealth();
      if (metrics_) metrics_->SetHostUp(name, "agent", s.ok());
      if (!s.ok())
        return absl::UnavailableError(
            absl::StrCat("agent ", name, " lost ", at, ": ", s.message()));
    }
    for (const auto& name : testbed_.loadgen_names()) {
      absl::Status s = testbed_.loadgen(name)->CheckHealth();
      if (metrics_) metrics_->SetHostUp(name, "loadgen", s.ok());
      if (!s.ok()) {
        return absl::UnavailableError(
            absl::StrCat("load generator ", name, " lost ", at, ": ", s.message()));
      }
    }
    if (server_started) {
      absl::Status s = testbed_.CheckServer();
      if (!s.ok())
        return absl::UnavailableError(absl::StrCat("server lost ", at, ": ", s.message()));
    }
    return absl::OkStatus();
  };
  auto abort_phase = [&]() { return StopRequested() || !lost_reason().empty(); };
  auto phase = [&](const char* name) {
    if (metrics_) metrics_->SetPhase(spec_.name, name);
    Message(absl::StrCat(run.run_id, ": ", name));
  };

  int64_t measure_start_ms = 0, measure_end_ms = 0;
  auto body = [&]() -> absl::Status {
    phase("setup");
    RCBENCH_RETURN_IF_ERROR(check_all("before the run"));
    if (spec_.Records("host_facts")) {
      for (const auto& name : testbed_.agent_names()) {
        RCBENCH_ASSIGN_OR_RETURN(outcome.hosts[name],
                                 testbed_.agent(name)->GetHostFacts(spec_.facts_sysctls));
      }
    }
    RCBENCH_ASSIGN_OR_RETURN(auto sysctls, RenderSysctls(spec_, vars));
    for (const auto& [name, value] : sysctls) {
      AgentClient* a = testbed_.agent(server_agent_name);
      if (a == nullptr) return absl::NotFoundError("no agent " + server_agent_name);
      sysctl_agents.insert(server_agent_name);
      RCBENCH_RETURN_IF_ERROR(a->SetSysctl(name, value));
    }
    RCBENCH_ASSIGN_OR_RETURN(auto containers, RenderContainers(spec_, vars));
    for (const auto& c : containers) {
      AgentClient* a = testbed_.agent(c.agent);
      if (a == nullptr) return absl::NotFoundError("no agent " + c.agent);
      RCBENCH_RETURN_IF_ERROR(a->CreateContainer(c.path, c.attributes).status());
      created.push_back(c);
    }
    if (spec_.server) {
      RCBENCH_ASSIGN_OR_RETURN(auto args, RenderServerArgs(spec_, vars));
      RCBENCH_ASSIGN_OR_RETURN(auto classes, RenderServerClasses(spec_, vars));
      ServerLaunch launch{args, classes, spec_.server->ready_timeout, run.run_id};
      server_started = true;
      RCBENCH_ASSIGN_OR_RETURN(TemplateVars server_vars, testbed_.StartServer(launch));
      for (const auto& [k, v] : server_vars) vars[k] = v;
    }
    if (!SleepUnless(clock_, spec_.phases.setup, abort_phase)) {
      return absl::AbortedError("stopped during setup");
    }
    if (spec_.benchmark) {
      if (options_.benchmarks == nullptr) {
        return absl::FailedPreconditionError("no benchmark executor (benchmarks need local mode)");
      }
      RCBENCH_ASSIGN_OR_RETURN(auto args, RenderBenchmarkArgs(spec_, vars));
      phase("measure");
      measure_start_ms = NowMs(clock_);
      auto json = options_.benchmarks->Run({args, spec_.benchmark->timeout, run.run_id},
                                           [this] { return StopRequested(); });
      measure_end_ms = NowMs(clock_);
      if (!json.ok()) return json.status();
      auto parsed = ParseGoogleBenchmarkJson(*json);
      if (!parsed.ok()) {
        return absl::Status(parsed.status().code(),
                            absl::StrCat(spec_.benchmark->binary, ": ", parsed.status().message()));
      }
      outcome.benchmarks = *std::move(parsed);
      return check_all("after the benchmark");
    }
    // The load runs through warm-up and measurement; the generator's own bound is a safety
    // net a few seconds later (we stop it explicitly).
    auto load_duration = spec_.phases.warmup + spec_.phases.measure + std::chrono::seconds(5);
    RCBENCH_ASSIGN_OR_RETURN(auto workloads, RenderWorkloads(spec_, vars, load_duration));
    for (auto& [name, workload] : workloads) {
      LoadGenClient* client = testbed_.loadgen(name);
      if (client == nullptr) return absl::NotFoundError("no load generator " + name);
      RCBENCH_ASSIGN_OR_RETURN(std::string workload_id, client->Configure(workload));
      auto session = std::make_unique<LoadSession>();
      session->name = name;
      session->client = client;
      session->lease_id = workload_id;  // replaced below
      sessions.push_back(std::move(session));
      sessions.back()->run_id = workload_id;
    }
    phase("warmup");
    // Barrier: every generator starts before the warm-up clock runs.
    for (auto& s : sessions) {
      RCBENCH_ASSIGN_OR_RETURN(auto started, s->client->Start(s->run_id, options_.lease));
      s->run_id = started.run_id();
      s->lease_id = started.lease_id();
      LoadSession* sp = s.get();
      sp->stream = sp->client->StreamStats(sp->run_id, 0);
      sp->stats_thread = std::thread([this, sp] {
        rcbench::v1::StatsReport report;
        while (sp->stream->Read(&report)) {
          for (const auto& c : report.classes()) {
            double secs = IntervalSeconds(c);
            if (metrics_ && secs > 0) {
              metrics_->SetClassLive(c.class_name(), c.requests_ok() / secs,
                                     HistogramQuantileNs(c.latency(), 0.5) / 1e9,
                                     HistogramQuantileNs(c.latency(), 0.99) / 1e9);
            }
          }
          std::lock_guard<std::mutex> lock(sp->mu);
          sp->reports.push_back(report);
          if (report.final()) {
            sp->final_seen = true;
            sp->totals.assign(report.totals().begin(), report.totals().end());
          }
        }
        absl::Status st = sp->stream->Finish();
        std::lock_guard<std::mutex> lock(sp->mu);
        if (!sp->final_seen && !sp->done && !st.ok()) {
          sp->lost =
              absl::StrCat("load generator ", sp->name, " lost: statistics stream: ", st.message());
        }
      });
      sp->lease_thread = std::thread([this, sp] {
        std::unique_lock<std::mutex> lock(sp->mu);
        while (!sp->done) {
          // Real time: leases are a property of the wall clock on the generator.
          if (sp->cv.wait_for(lock, options_.lease_renew_every, [sp] { return sp->done; })) break;
          lock.unlock();
          absl::Status st = sp->client->RenewLease(sp->lease_id, options_.lease);
          lock.lock();
          if (!st.ok() && !sp->done && !sp->final_seen) {
            sp->lost =
                absl::StrCat("load generator ", sp->name, " lost: lease renewal: ", st.message());
          }
        }
      });
    }
    if (!SleepUnless(clock_, spec_.phases.warmup, abort_phase)) {
      return absl::UnavailableError(lost_reason().empty() ? "stopped" : lost_reason());
    }
    RCBENCH_RETURN_IF_ERROR(check_all("at the start of the measurement"));
    phase("measure");
    measure_start_ms = NowMs(clock_);
    if (!SleepUnless(clock_, spec_.phases.measure, abort_phase)) {
      return absl::UnavailableError(lost_reason().empty() ? "stopped" : lost_reason());
    }
    measure_end_ms = NowMs(clock_);
    RCBENCH_RETURN_IF_ERROR(check_all("at the end of the measurement"));
    phase("cooldown");
    for (auto& s : sessions) {
      RCBENCH_ASSIGN_OR_RETURN(auto stopped, s->client->Stop(s->run_id));
      std::lock_guard<std::mutex> lock(s->mu);
      if (s->totals.empty()) s->totals.assign(stopped.totals().begin(), stopped.totals().end());
    }
    if (!SleepUnless(clock_, spec_.phases.cooldown, [this] { return StopRequested(); })) {
      return absl::AbortedError("stopped during cool-down");
    }
    return absl::OkStatus();
  };
  absl::Status result = body();
  if (!result.ok()) failure = std::string(result.message());

  // Teardown, on every path.
  phase("teardown");
  for (auto& s : sessions) {
    if (!result.ok() && s->client != nullptr && !s->run_id.empty()) {
      s->client->Stop(s->run_id).IgnoreError();
    }
    {
      std::lock_guard<std::mutex> lock(s->mu);
      s->done = true;
    }
    s->cv.notify_all();
    if (s->stream) s->stream->Cancel();
    if (s->stats_thread.joinable()) s->stats_thread.join();
    if (s->lease_thread.joinable()) s->lease_thread.join();
  }
  if (server_started) {
    absl::Status s = testbed_.StopServer();
    if (!s.ok()) {
      RCBENCH_LOG(WARNING) << "stopping the server: " << s;
    }
  }
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    AgentClient* a = testbed_.agent(it->agent);
    if (a != nullptr) {
      absl::Status s = a->DeleteContainer(it->path);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
        RCBENCH_LOG(WARNING) << "deleting container " << it->path << ": " << s;
      }
    }
  }
  for (const auto& name : sysctl_agents) {
    AgentClient* a = testbed_.agent(name);
    if (a != nullptr) a->RestoreSysctls().IgnoreError();
  }

  if (!result.ok()) {
    outcome.status = rcbench::v1::RUN_STATUS_FAILED;
    outcome.error = failure;
    outcome.hosts.clear();
    return outcome;
  }
  std::vector<rcbench::v1::StatsReport> all_reports;
  std::vector<rcbench::v1::ClassStats> totals;
  for (auto& s : sessions) {
    all_reports.insert(all_reports.end(), s->reports.begin(), s->reports.end());
    totals.insert(totals.end(), s->totals.begin(), s->totals.end());
  }
  if (spec_.Records("classes")) {
    outcome.classes = ComputeClassResults(all_reports, totals, measure_start_ms, measure_end_ms);
  }
  const int64_t run_end_ms = NowMs(clock_);
  const int64_t slack_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(spec_.stats_interval).count() * 2 +
      1000;
  for (auto& [name, collector] : collectors_) {
    // Samples arrive once per interval: wait (briefly) for the one after the window.
    // Real time: this waits for the collector thread, not for the experiment's clock.
    for (int i = 0; i < 60; ++i) {
      auto later = collector->Between(measure_end_ms, measure_end_ms + 600000);
      if (!later.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto samples = collector->Between(run_start_ms - slack_ms, NowMs(clock_));
    if (spec_.Records("containers")) {
      auto results = ComputeContainerResults(name, samples, measure_start_ms, measure_end_ms);
      outcome.containers.insert(outcome.containers.end(), results.begin(), results.end());
    }
    if (spec_.Records("samples")) {
      for (auto& r : samples) {
        if (WallMs(r.time()) >= run_start_ms && WallMs(r.time()) <= run_end_ms + slack_ms) {
          outcome.usage_samples.push_back(std::move(r));
        }
      }
    }
    collector->Trim(run_start_ms - 600000);
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
  return outcome;
}

}  // namespace rcbench::controller
