#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "controller/histogram_math.h"
#include "controller/runner.h"
#include "controller/runner_attempt.h"

namespace rcbench::controller {

using runner_internal::NowMs;
using runner_internal::WallMs;

namespace {

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

}  // namespace rcbench::controller
