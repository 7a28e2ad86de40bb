#include "controller/metrics_catalog.h"

#include <algorithm>

namespace rcbench::controller {

const std::vector<std::string>& ClassMetricNames() {
  static const auto* names = new std::vector<std::string>{
      "throughput_rps", "latency_p50_us",      "latency_p90_us",
      "latency_p99_us", "latency_p999_us",     "latency_max_us",
      "errors_total",   "generator_cpu_cores", "generator_cpu_us_per_request"};
  return *names;
}

const std::vector<std::string>& ContainerMetricNames() {
  static const auto* names = new std::vector<std::string>{
      "cpu_cores", "cpu_seconds", "cpu_throttled_seconds", "memory_peak_bytes"};
  return *names;
}

const std::vector<std::string>& BenchmarkMetricNames() {
  static const auto* names = new std::vector<std::string>{"time_per_op_ns", "cpu_time_per_op_ns"};
  return *names;
}

bool IsBenchmarkMetric(absl::string_view name) {
  const auto& n = BenchmarkMetricNames();
  return std::find(n.begin(), n.end(), name) != n.end();
}

bool IsClassMetric(absl::string_view name) {
  const auto& n = ClassMetricNames();
  return std::find(n.begin(), n.end(), name) != n.end();
}

bool IsContainerMetric(absl::string_view name) {
  const auto& n = ContainerMetricNames();
  return std::find(n.begin(), n.end(), name) != n.end();
}

}  // namespace rcbench::controller
