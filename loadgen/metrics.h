#pragma once

// Every Prometheus metric of rcbench-loadgen, built in one place (names and help strings are
// listed in loadgen/README.md). Counters accumulate over every run of the process, fed by the
// runs' interval reports, so they only grow. Thread-safe.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "loadgen/stats.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "rcbench/v1/loadgen.pb.h"

namespace rcbench::loadgen {

class LoadgenMetrics : public prometheus::Collectable {
 public:
  // Upper bounds (seconds) of the exported latency histogram's buckets.
  static const std::vector<double>& LatencyBucketsSeconds();

  // Adds a report's interval deltas (report.classes) to the cumulative counters.
  void AddReport(const rcbench::v1::StatsReport& report);
  void SetRunActive(bool active);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ClassCounters> classes_;
  uint64_t generator_cpu_ns_ = 0;
  bool run_active_ = false;
};

}  // namespace rcbench::loadgen
