#include "server/metrics.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/metric_family.h"
#include "prometheus/text_serializer.h"

namespace rcbench::server {

namespace pm = prometheus;

void ContainerStats::RecordRequest(int status, int64_t latency_ns) {
  int idx = status / 100 - 2;
  if (idx < 0) idx = 0;
  if (idx > 3) idx = 3;
  requests[idx].fetch_add(1, std::memory_order_relaxed);
  double s = static_cast<double>(latency_ns) * 1e-9;
  size_t b = 0;
  while (b < kLatencyBucketsSeconds.size() && s > kLatencyBucketsSeconds[b]) ++b;
  latency_buckets[b].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns.fetch_add(static_cast<uint64_t>(latency_ns), std::memory_order_relaxed);
}

ServerMetrics::ServerMetrics(std::vector<std::pair<std::string, std::string>> containers) {
  for (auto& [name, cls] : containers) {
    auto s = std::make_unique<ContainerStats>();
    s->name = name;
    s->class_name = cls;
    stats_.push_back(std::move(s));
  }
}

namespace {

// One counter per enumerator, labelled `label`=names[i], read from counts[i]. N is deduced from
// both arrays, so an enumerator without a name (or a name too many) does not compile.
template <size_t N>
void AddEnumCounters(pm::MetricFamily& family, const char* label, const char* const (&names)[N],
                     const std::array<std::atomic<uint64_t>, N>& counts) {
  for (size_t i = 0; i < N; ++i) {
    AddMetric(family, {{label, names[i]}}).counter.value =
        static_cast<double>(counts[i].load(std::memory_order_relaxed));
  }
}

double ProcessCpuSeconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

std::vector<pm::MetricFamily> ServerMetrics::Collect() const {
  using T = pm::MetricType;
  auto requests = MakeMetricFamily(
      "rcbench_server_requests_total",
      "Requests answered, by logical container, class and status class.", T::Counter);
  auto latency = MakeMetricFamily("rcbench_server_request_duration_seconds",
                                  "Time from a request's first byte to the end of its response.",
                                  T::Histogram);
  auto accepted =
      MakeMetricFamily("rcbench_server_connections_accepted_total",
                       "Connections accepted, by logical container (class).", T::Counter);
  auto open =
      MakeMetricFamily("rcbench_server_connections_open", "Connections open now.", T::Gauge);
  static constexpr const char* kCodes[] = {"2xx", "3xx", "4xx", "5xx"};
  for (const auto& s : stats_) {
    for (int i = 0; i < 4; ++i) {
      AddMetric(requests, {{"class", s->class_name}, {"code", kCodes[i]}, {"container", s->name}})
          .counter.value = static_cast<double>(s->requests[i].load(std::memory_order_relaxed));
    }
    auto& h = AddMetric(latency, {{"class", s->class_name}, {"container", s->name}});
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kLatencyBucketsSeconds.size(); ++b) {
      cumulative += s->latency_buckets[b].load(std::memory_order_relaxed);
      pm::ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound = b < kLatencyBucketsSeconds.size()
                               ? kLatencyBucketsSeconds[b]
                               : std::numeric_limits<double>::infinity();
      h.histogram.bucket.push_back(bucket);
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = s->latency_sum_ns.load(std::memory_order_relaxed) * 1e-9;
    if (s->name.rfind("class/", 0) == 0) {
      AddMetric(accepted, {{"class", s->class_name}}).counter.value =
          static_cast<double>(s->connections_accepted.load(std::memory_order_relaxed));
      AddMetric(open, {{"class", s->class_name}}).gauge.value =
          static_cast<double>(s->connections_open.load(std::memory_order_relaxed));
    }
  }

  auto summary =
      MakeMetricFamily("rcbench_server_request_latency_seconds",
                       "Request latency percentiles since start (log-linear histogram, within "
                       "0.8%), from a request's first byte to its response written.",
                       T::Summary);
  if (sources_.latency) {
    std::vector<LatencyHistogram> h = sources_.latency();
    for (size_t i = 0; i < h.size() && i < stats_.size(); ++i) {
      auto& m =
          AddMetric(summary, {{"class", stats_[i]->class_name}, {"container", stats_[i]->name}});
      LatencyHistogram::Percentiles p = h[i].GetPercentiles();
      m.summary.sample_count = h[i].total_count();
      m.summary.sample_sum = static_cast<double>(h[i].sum_ns()) * 1e-9;
      for (auto [q, ns] : {std::pair<double, uint64_t>{0.5, p.p50_ns},
                           {0.9, p.p90_ns},
                           {0.99, p.p99_ns},
                           {0.999, p.p999_ns},
                           {1.0, p.max_ns}}) {
        m.summary.quantile.push_back({q, static_cast<double>(ns) * 1e-9});
      }
    }
  }

  auto cpu =
      MakeMetricFamily("rcbench_server_container_cpu_seconds_total",
                       "CPU time charged per container. accounting=user: user-level accounting of "
                       "logical containers, reconciled with the worker threads' CPU clocks; "
                       "accounting=kernel: kernel containers (cgroups) and the process itself.",
                       T::Counter);
  if (sources_.user_cpu_seconds) {
    std::vector<double> v = sources_.user_cpu_seconds();
    for (size_t i = 0; i < v.size() && i < stats_.size(); ++i) {
      AddMetric(cpu, {{"accounting", "user"}, {"container", stats_[i]->name}}).counter.value = v[i];
    }
  }
  if (sources_.kernel_cpu_seconds) {
    for (auto& [name, seconds] : sources_.kernel_cpu_seconds()) {
      AddMetric(cpu, {{"accounting", "kernel"}, {"container", name}}).counter.value = seconds;
    }
  }
  AddMetric(cpu, {{"accounting", "kernel"}, {"container", "process"}}).counter.value =
      ProcessCpuSeconds(RUSAGE_SELF);
  AddMetric(cpu, {{"accounting", "kernel"}, {"container", "process-children"}}).counter.value =
      ProcessCpuSeconds(RUSAGE_CHILDREN);

  auto errors =
      MakeMetricFamily("rcbench_server_connection_errors_total",
                       "Connections closed for bad input, timeouts or peer errors.", T::Counter);
  static constexpr const char* kErrors[] = {"bad_request",  "header_too_large", "body_too_large",
                                            "idle_timeout", "request_timeout",  "reset"};
  AddEnumCounters(errors, "reason", kErrors, errors_);
  auto cgi = MakeMetricFamily("rcbench_server_cgi_total", "CGI runs by outcome.", T::Counter);
  static constexpr const char* kCgi[] = {"ok", "failed", "timeout", "abandoned", "refused"};
  AddEnumCounters(cgi, "outcome", kCgi, cgi_);
  auto cgi_children =
      MakeMetricFamily("rcbench_server_cgi_children",
                       "CGI children alive now (running or being stopped).", T::Gauge);
  AddMetric(cgi_children, {}).gauge.value = sources_.cgi_children ? sources_.cgi_children() : 0;

  auto accept_errors =
      MakeMetricFamily("rcbench_server_accept_errors_total",
                       "accept() failures; fd_limit: out of descriptors (or socket "
                       "memory), after which the listener pauses for --accept-backoff.",
                       T::Counter);
  static constexpr const char* kAcceptErrors[] = {"fd_limit", "other"};
  AddEnumCounters(accept_errors, "reason", kAcceptErrors, accept_errors_);

  auto qlen = MakeMetricFamily("rcbench_server_listen_queue_length",
                               "Connections waiting in a listener's accept queue.", T::Gauge);
  auto qmax = MakeMetricFamily("rcbench_server_listen_queue_max",
                               "A listener's accept queue limit.", T::Gauge);
  auto qdrops = MakeMetricFamily(
      "rcbench_server_listen_drops_total",
      "Packets a listen socket dropped (socket filter, memory): SO_MEMINFO.", T::Counter);
  if (sources_.listeners) {
    for (const auto& l : sources_.listeners()) {
      AddMetric(qlen, {{"listener", l.name}}).gauge.value = static_cast<double>(l.queue_length);
      AddMetric(qmax, {{"listener", l.name}}).gauge.value = static_cast<double>(l.queue_max);
      AddMetric(qdrops, {{"listener", l.name}}).counter.value = static_cast<double>(l.drops);
    }
  }
  auto host =
      MakeMetricFamily("rcbench_server_host_listen_drops_total",
                       "Host-wide TcpExt counters: ListenOverflows and ListenDrops.", T::Counter);
  HostListenCounters hc = ReadHostListenCounters();
  AddMetric(host, {{"counter", "ListenOverflows"}}).counter.value =
      static_cast<double>(hc.overflows);
  AddMetric(host, {{"counter", "ListenDrops"}}).counter.value = static_cast<double>(hc.drops);

  std::vector<pm::MetricFamily> out;
  for (auto* f : {&requests, &latency, &summary, &accepted, &open, &cpu, &errors, &cgi,
                  &cgi_children, &accept_errors, &qlen, &qmax, &qdrops, &host}) {
    out.push_back(std::move(*f));
  }
  return out;
}

std::string ServerMetrics::RenderText() const {
  std::ostringstream out;
  pm::TextSerializer().Serialize(out, Collect());
  return std::move(out).str();
}

HostListenCounters ReadHostListenCounters(absl::string_view netstat_path) {
  HostListenCounters c;
  std::ifstream in{std::string(netstat_path)};
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::vector<absl::string_view> n = absl::StrSplit(names, ' ');
    std::vector<absl::string_view> v = absl::StrSplit(values, ' ');
    for (size_t i = 1; i < n.size() && i < v.size(); ++i) {
      uint64_t x = 0;
      if (!absl::SimpleAtoi(v[i], &x)) continue;
      if (n[i] == "ListenOverflows") c.overflows = x;
      if (n[i] == "ListenDrops") c.drops = x;
    }
  }
  return c;
}

}  // namespace rcbench::server
