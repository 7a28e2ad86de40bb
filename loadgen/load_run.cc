#include "loadgen/load_run.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace rcbench::loadgen {
namespace {

void PinCurrentThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    RCBENCH_LOG(WARNING) << "cannot pin a thread to CPU " << cpu;
  }
}

}  // namespace

uint64_t ProcessCpuNanos() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1'000'000'000 +
           static_cast<uint64_t>(tv.tv_usec) * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

LoadRun::LoadRun(RunSpec spec, std::string id, Clock* clock, ReportCallback on_report)
    : spec_(std::move(spec)), id_(std::move(id)), clock_(clock), on_report_(std::move(on_report)) {}

absl::StatusOr<std::unique_ptr<LoadRun>> LoadRun::Start(RunSpec spec, std::string run_id,
                                                        Clock* clock, ReportCallback on_report) {
  std::unique_ptr<LoadRun> run(
      new LoadRun(std::move(spec), std::move(run_id), clock, std::move(on_report)));
  const RunSpec& s = run->spec_;
  const size_t num_classes = s.classes.size() + (s.flood ? 1 : 0);
  run->totals_.resize(num_classes);
  run->interval_.resize(num_classes);

  if (!s.classes.empty()) {
    auto plans = PlanWorkers(s, s.threads);
    for (size_t w = 0; w < plans.size(); ++w) {
      if (plans[w].empty()) continue;
      run->workers_.push_back(std::make_unique<HttpWorker>(std::move(plans[w]), num_classes, clock,
                                                           0x5EED0000ULL + w * 7919, s.io_engine,
                                                           s.io_batch, s.io_batch_wait_ns));
    }
  }
  if (s.flood) {
    RCBENCH_ASSIGN_OR_RETURN(
        SynPacketTemplate tmpl,
        SynPacketTemplate::Create(s.flood->target_ip, s.flood->target_port, s.flood->spoof));
    run->syn_template_ = std::make_unique<SynPacketTemplate>(tmpl);
    for (uint32_t i = 0; i < s.flood->senders; ++i) {
      RCBENCH_ASSIGN_OR_RETURN(auto out, OpenPacketOutput(*s.flood));
      run->outputs_.push_back(std::move(out));
    }
    run->syn_sent_.reset(new std::atomic<uint64_t>[s.flood->senders]);
    run->syn_errors_.reset(new std::atomic<uint64_t>[s.flood->senders]);
    for (uint32_t i = 0; i < s.flood->senders; ++i) {
      run->syn_sent_[i] = 0;
      run->syn_errors_[i] = 0;
    }
  }

  LoadRun* r = run.get();
  r->start_ns_ = clock->MonotonicNanos();
  r->end_ns_ = r->start_ns_ + s.duration_ns;
  r->wall_offset_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock->Now().time_since_epoch())
          .count() -
      r->start_ns_;
  r->cpu_start_ns_ = r->last_cpu_ns_ = ProcessCpuNanos();
  r->last_emit_ns_ = r->start_ns_;
  const unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
  for (size_t w = 0; w < r->workers_.size(); ++w) {
    const int cpu = s.cpus.empty() ? -1 : s.cpus[w % s.cpus.size()];
    r->threads_.emplace_back([r, w, cpu] {
      if (cpu >= 0) PinCurrentThread(cpu);
      absl::Status st = r->workers_[w]->Run(r->stop_workers_, r->start_ns_, r->end_ns_);
      if (!st.ok()) r->Stop(absl::StrCat("error: ", st.message()));
    });
  }
  for (size_t i = 0; i < r->outputs_.size(); ++i) {
    // One sender per core: pinned to the given CPUs, or to CPU i by default.
    const int cpu = s.cpus.empty() ? static_cast<int>(i % ncpu) : s.cpus[i % s.cpus.size()];
    r->threads_.emplace_back([r, i, cpu] {
      PinCurrentThread(cpu);
      SynSenderOptions opt;
      opt.rate_pps = r->spec_.flood->rate_pps / r->spec_.flood->senders;
      opt.end_ns = r->end_ns_;
      opt.seed = 0xF100D + i * 104729;
      RunSynSender(*r->syn_template_, r->outputs_[i].get(), r->clock_, opt, r->stop_workers_,
                   &r->syn_sent_[i], &r->syn_errors_[i]);
    });
  }
  r->reporter_ = std::thread([r] { r->ReporterLoop(); });
  return run;
}

LoadRun::~LoadRun() {
  Stop("stopped");
  if (reporter_.joinable()) reporter_.join();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void LoadRun::Stop(absl::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stop_requested_ && !done_) {
    stop_requested_ = true;
    end_reason_ = std::string(reason);
  }
  cv_.notify_all();
}

void LoadRun::ReporterLoop() {
  int64_t next = start_ns_ + spec_.stats_interval_ns;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      const int64_t now = clock_->MonotonicNanos();
      const int64_t until = std::min(next, end_ns_);
      if (!stop_requested_ && now < until) {
        cv_.wait_for(lock, std::chrono::nanoseconds(until - now));
      }
      if (stop_requested_) break;
    }
    const int64_t now = clock_->MonotonicNanos();
    if (now >= end_ns_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stop_requested_) end_reason_ = "duration";
      stop_requested_ = true;
      break;
    }
    if (now >= next) {
      Emit(false);
      next += spec_.stats_interval_ns;
      if (next <= now) next = now + spec_.stats_interval_ns;
    }
  }
  stop_workers_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ns_ = clock_->MonotonicNanos();
  }
  Emit(true);
}

void LoadRun::FillSampleTime(int64_t mono_ns, rcbench::v1::SampleTime* out) const {
  const int64_t wall = mono_ns + wall_offset_ns_;
  out->mutable_wall()->set_seconds(wall / 1'000'000'000);
  out->mutable_wall()->set_nanos(static_cast<int32_t>(wall % 1'000'000'000));
  out->set_monotonic_ns(mono_ns);
}

void LoadRun::Emit(bool final) {
  for (auto& c : interval_) c.Reset();
  for (auto& w : workers_) w->Collect(&interval_);
  if (spec_.flood) {
    uint64_t sent = 0, errors = 0;
    for (uint32_t i = 0; i < spec_.flood->senders; ++i) {
      sent += syn_sent_[i].load();
      errors += syn_errors_[i].load();
    }
    ClassCounters& f = interval_.back();
    f.syn_packets_sent = sent - syn_sent_seen_;
    f.errors[kLocal] = errors - syn_errors_seen_;
    syn_sent_seen_ = sent;
    syn_errors_seen_ = errors;
  }
  const int64_t now = final ? stopped_ns_ : clock_->MonotonicNanos();
  const uint64_t cpu = ProcessCpuNanos();
  rcbench::v1::StatsReport report;
  report.set_run_id(id_);
  std::lock_guard<std::mutex> lock(mu_);
  report.set_sequence(++sequence_);
  auto name_of = [&](size_t i) {
    return i < spec_.classes.size() ? spec_.classes[i].name : std::string(kFloodClassName);
  };
  // Class i's counters from `since_ns` to now, with the generator CPU used since `cpu_since`.
  auto fill = [&](rcbench::v1::ClassStats* cs, size_t i, const ClassCounters& counters,
                  int64_t since_ns, uint64_t cpu_since) {
    cs->set_class_name(name_of(i));
    FillSampleTime(since_ns, cs->mutable_interval_start());
    FillSampleTime(now, cs->mutable_interval_end());
    counters.ToProto(cs);
    cs->set_generator_cpu_ns(cpu - cpu_since);
  };
  for (size_t i = 0; i < interval_.size(); ++i) {
    totals_[i].Merge(interval_[i]);
    fill(report.add_classes(), i, interval_[i], last_emit_ns_, last_cpu_ns_);
  }
  last_emit_ns_ = now;
  last_cpu_ns_ = cpu;
  if (final) {
    report.set_final(true);
    report.set_end_reason(end_reason_);
    for (size_t i = 0; i < totals_.size(); ++i) {
      fill(report.add_totals(), i, totals_[i], start_ns_, cpu_start_ns_);
    }
    done_ = true;
  }
  reports_.push_back(report);
  while (reports_.size() > kRetainedReports) reports_.pop_front();
  cv_.notify_all();
  if (on_report_) on_report_(report);
}

void LoadRun::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
}

bool LoadRun::WaitFor(std::chrono::nanoseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return done_; });
}

bool LoadRun::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

std::string LoadRun::end_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_reason_;
}

std::vector<rcbench::v1::ClassStats> LoadRun::Totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<rcbench::v1::ClassStats> out;
  const int64_t end = done_ ? stopped_ns_ : last_emit_ns_;
  for (size_t i = 0; i < totals_.size(); ++i) {
    rcbench::v1::ClassStats cs;
    cs.set_class_name(i < spec_.classes.size() ? spec_.classes[i].name : kFloodClassName);
    FillSampleTime(start_ns_, cs.mutable_interval_start());
    FillSampleTime(end, cs.mutable_interval_end());
    totals_[i].ToProto(&cs);
    cs.set_generator_cpu_ns(last_cpu_ns_ - cpu_start_ns_);
    out.push_back(std::move(cs));
  }
  return out;
}

double LoadRun::ElapsedSeconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t end = done_ ? stopped_ns_ : clock_->MonotonicNanos();
  return static_cast<double>(end - start_ns_) / 1e9;
}

uint64_t LoadRun::CpuNanos() const {
  std::lock_guard<std::mutex> lock(mu_);
  return (done_ ? last_cpu_ns_ : ProcessCpuNanos()) - cpu_start_ns_;
}

uint64_t LoadRun::sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sequence_;
}

std::vector<rcbench::v1::StatsReport> LoadRun::ReportsAfter(uint64_t after,
                                                            std::chrono::nanoseconds timeout,
                                                            bool* ended) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return sequence_ > after || done_; });
  std::vector<rcbench::v1::StatsReport> out;
  for (const auto& r : reports_) {
    if (r.sequence() > after) out.push_back(r);
  }
  if (ended != nullptr) *ended = done_;
  return out;
}

}  // namespace rcbench::loadgen
