#pragma once

// The names of the per-run metrics the store keeps, shared by plots, reports and compare.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rcbench::controller {

// Per load class: throughput_rps, latency_p50_us, ... errors_total.
const std::vector<std::string>& ClassMetricNames();
// Per container: cpu_cores, cpu_seconds, cpu_throttled_seconds, memory_peak_bytes.
const std::vector<std::string>& ContainerMetricNames();
// Per benchmark of a micro-benchmark run: time_per_op_ns, cpu_time_per_op_ns.
const std::vector<std::string>& BenchmarkMetricNames();
bool IsClassMetric(absl::string_view name);
bool IsBenchmarkMetric(absl::string_view name);
bool IsContainerMetric(absl::string_view name);

}  // namespace rcbench::controller
