#include "controller/analysis.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "controller/benchmark_json.h"

namespace rcbench::controller {

std::string ClassMetricKey(const std::string& metric, const std::string& load_class) {
  return absl::StrCat(metric, "{class=", load_class, "}");
}

std::string ContainerMetricKey(const std::string& metric, const std::string& container) {
  return absl::StrCat(metric, "{container=", container, "}");
}

std::string MetricBaseName(const std::string& key) { return key.substr(0, key.find('{')); }

std::string StableContainerPath(const std::string& path) {
  if (path.empty()) return "(root)";
  // rcbench-server names its subtree "server-PID"; every run has a new process, so the pid is
  // dropped to make the same container comparable across runs.
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  for (auto& part : parts) {
    absl::string_view rest = part;
    if (absl::ConsumePrefix(&rest, "server-") && !rest.empty() &&
        std::all_of(rest.begin(), rest.end(), absl::ascii_isdigit)) {
      part = "server";
    }
  }
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<std::vector<RunRecord>> LoadRunRecords(ResultStore& store,
                                                      const std::string& experiment,
                                                      bool completed_only,
                                                      const std::string& campaign) {
  RCBENCH_ASSIGN_OR_RETURN(auto runs, store.ListRuns(experiment));
  std::vector<RunRecord> out;
  for (auto& run : runs) {
    if (completed_only && run.status() != rcbench::v1::RUN_STATUS_COMPLETED) continue;
    if (!campaign.empty() && run.campaign() != campaign) continue;
    RunRecord rec;
    RCBENCH_ASSIGN_OR_RETURN(auto results, store.GetResults(run.run_id(), false));
    RCBENCH_ASSIGN_OR_RETURN(rec.hosts, store.GetHostFacts(run.run_id()));
    rec.run = std::move(run);
    rec.classes.assign(results.classes().begin(), results.classes().end());
    rec.containers.assign(results.containers().begin(), results.containers().end());
    rec.benchmarks.assign(results.benchmarks().begin(), results.benchmarks().end());
    rec.metrics = BenchmarkMetrics(rec.benchmarks);
    for (const auto& c : rec.classes) {
      const std::string& n = c.class_name();
      rec.metrics[ClassMetricKey("throughput_rps", n)] = c.throughput_rps();
      rec.metrics[ClassMetricKey("latency_p50_us", n)] = c.latency_p50_us();
      rec.metrics[ClassMetricKey("latency_p90_us", n)] = c.latency_p90_us();
      rec.metrics[ClassMetricKey("latency_p99_us", n)] = c.latency_p99_us();
      rec.metrics[ClassMetricKey("latency_p999_us", n)] = c.latency_p999_us();
      rec.metrics[ClassMetricKey("latency_max_us", n)] = c.latency_max_us();
      rec.metrics[ClassMetricKey("generator_cpu_cores", n)] = c.generator_cpu_cores();
      rec.metrics[ClassMetricKey("generator_cpu_us_per_request", n)] =
          c.generator_cpu_us_per_request();
      const auto& e = c.errors();
      rec.metrics[ClassMetricKey("errors_total", n)] = static_cast<double>(
          e.connect_timeout() + e.connect_refused() + e.reset() + e.response_timeout() +
          e.non_2xx() + e.parse_error() + e.late_send() + e.local());
    }
    for (const auto& c : rec.containers) {
      std::string stable = StableContainerPath(c.id().path());
      std::string path = c.id().host().empty() || c.id().host() == "local"
                             ? stable
                             : absl::StrCat(c.id().host(), ":", stable);
      rec.metrics[ContainerMetricKey("cpu_cores", path)] = c.cpu_cores();
      rec.metrics[ContainerMetricKey("cpu_seconds", path)] = c.cpu_seconds();
      rec.metrics[ContainerMetricKey("cpu_throttled_seconds", path)] = c.cpu_throttled_seconds();
      rec.metrics[ContainerMetricKey("memory_peak_bytes", path)] =
          static_cast<double>(c.memory_peak_bytes());
    }
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace rcbench::controller
