#pragma once

// Stored runs joined with their results, and the per-run metric values reports and compare
// work on. Metric keys read like Prometheus series: "throughput_rps{class=high}",
// "cpu_cores{container=smoke/low}".

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store.h"

namespace rcbench::controller {

struct RunRecord {
  rcbench::v1::Run run;
  std::map<std::string, rcbench::v1::HostFacts> hosts;
  std::vector<rcbench::v1::ClassResult> classes;
  std::vector<rcbench::v1::ContainerResult> containers;
  std::vector<rcbench::v1::BenchmarkResult> benchmarks;
  std::map<std::string, double> metrics;  // metric key -> value
};

std::string ClassMetricKey(const std::string& metric, const std::string& load_class);
std::string ContainerMetricKey(const std::string& metric, const std::string& container);
// A container path as it appears in metric keys: "server-1234/class-low" -> "server/class-low"
// (the server's subtree carries its pid), "" -> "(root)".
std::string StableContainerPath(const std::string& path);
// "throughput_rps{class=high}" -> "throughput_rps".
std::string MetricBaseName(const std::string& key);

// All runs of `experiment` (every experiment when empty), with results; only completed ones
// when `completed_only`; only `campaign`'s when it is not empty.
absl::StatusOr<std::vector<RunRecord>> LoadRunRecords(ResultStore& store,
                                                      const std::string& experiment,
                                                      bool completed_only,
                                                      const std::string& campaign = "");

}  // namespace rcbench::controller
