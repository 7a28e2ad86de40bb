#include "loadgen/metrics.h"

#include <limits>

#include "common/metric_family.h"

namespace rcbench::loadgen {

const std::vector<double>& LoadgenMetrics::LatencyBucketsSeconds() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10,    30,     60};
  return kBuckets;
}

void LoadgenMetrics::AddReport(const rcbench::v1::StatsReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  bool cpu_added = false;
  for (const auto& cs : report.classes()) {
    auto counters = ClassCounters::FromProto(cs);
    if (!counters.ok()) continue;  // our own reports; cannot be malformed
    classes_[cs.class_name()].Merge(*counters);
    if (!cpu_added) {
      generator_cpu_ns_ += cs.generator_cpu_ns();
      cpu_added = true;
    }
  }
}

void LoadgenMetrics::SetRunActive(bool active) {
  std::lock_guard<std::mutex> lock(mu_);
  run_active_ = active;
}

std::vector<prometheus::MetricFamily> LoadgenMetrics::Collect() const {
  using prometheus::MetricType;
  std::lock_guard<std::mutex> lock(mu_);
  auto ok = MakeMetricFamily("rcbench_loadgen_requests_total",
                             "Requests that received a complete 2xx response, by class.",
                             MetricType::Counter);
  auto sent = MakeMetricFamily("rcbench_loadgen_requests_sent_total",
                               "Requests written to a connection, by class.", MetricType::Counter);
  auto errors = MakeMetricFamily("rcbench_loadgen_errors_total",
                                 "Failed requests and connection attempts, by class and kind.",
                                 MetricType::Counter);
  auto conn_att = MakeMetricFamily("rcbench_loadgen_connects_attempted_total",
                                   "connect() calls started, by class.", MetricType::Counter);
  auto conn_est = MakeMetricFamily("rcbench_loadgen_connects_established_total",
                                   "Connections established, by class.", MetricType::Counter);
  auto bytes = MakeMetricFamily("rcbench_loadgen_response_bytes_total",
                                "Response bytes received (headers included), by class.",
                                MetricType::Counter);
  auto syn = MakeMetricFamily("rcbench_loadgen_syn_packets_sent_total",
                              "SYN-flood packets handed to the kernel.", MetricType::Counter);
  auto cpu = MakeMetricFamily(
      "rcbench_loadgen_generator_cpu_seconds_total",
      "CPU time (user + system) the generator used while running workloads.", MetricType::Counter);
  auto active = MakeMetricFamily("rcbench_loadgen_run_active", "1 while a workload is running.",
                                 MetricType::Gauge);
  auto latency =
      MakeMetricFamily("rcbench_loadgen_latency_seconds",
                       "Response time of successful requests, by class (open loop: from the "
                       "intended send time).",
                       MetricType::Histogram);
  for (const auto& [name, c] : classes_) {
    if (name == "syn-flood") {
      AddMetric(syn, {}).counter.value = static_cast<double>(c.syn_packets_sent);
      continue;
    }
    const std::vector<prometheus::ClientMetric::Label> labels = {{"class", name}};
    AddMetric(ok, labels).counter.value = static_cast<double>(c.requests_ok);
    AddMetric(sent, labels).counter.value = static_cast<double>(c.requests_sent);
    AddMetric(conn_att, labels).counter.value = static_cast<double>(c.connects_attempted);
    AddMetric(conn_est, labels).counter.value = static_cast<double>(c.connects_established);
    AddMetric(bytes, labels).counter.value = static_cast<double>(c.bytes_received);
    for (int k = 0; k < kNumErrorKinds; ++k) {
      AddMetric(errors, {{"class", name}, {"kind", ErrorKindName(k)}}).counter.value =
          static_cast<double>(c.errors[k]);
    }
    prometheus::ClientMetric& h = AddMetric(latency, labels);
    h.histogram.sample_count = c.latency.total_count();
    h.histogram.sample_sum = static_cast<double>(c.latency.sum_ns()) / 1e9;
    // Cumulative counts at each bound, from the log-linear buckets (< 0.8% wide, so a
    // bucket straddling a bound is attributed by its lower edge).
    const auto& bounds = LatencyBucketsSeconds();
    const auto proto = c.latency.ToProto();
    size_t j = 0;
    uint64_t cumulative = 0;
    for (double le : bounds) {
      const uint64_t le_ns = static_cast<uint64_t>(le * 1e9);
      while (j < static_cast<size_t>(proto.bucket_index_size()) &&
             LatencyHistogram::BucketLowerBound(proto.bucket_index(j), proto.sub_bucket_bits()) <=
                 le_ns) {
        cumulative += proto.bucket_count(j);
        ++j;
      }
      h.histogram.bucket.push_back({cumulative, le});
    }
    h.histogram.bucket.push_back(
        {c.latency.total_count(), std::numeric_limits<double>::infinity()});
  }
  if (syn.metric.empty()) AddMetric(syn, {}).counter.value = 0;
  AddMetric(cpu, {}).counter.value = static_cast<double>(generator_cpu_ns_) / 1e9;
  AddMetric(active, {}).gauge.value = run_active_ ? 1 : 0;
  return {ok, sent, errors, conn_att, conn_est, bytes, syn, cpu, active, latency};
}

}  // namespace rcbench::loadgen
