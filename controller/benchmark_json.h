#pragma once

// Reading a micro-benchmark program's machine-readable output (Google Benchmark's
// `--benchmark_out_format=json`) into stored BenchmarkResult entries, and the per-run metrics
// reports and compare work on: "time_per_op_ns{benchmark=BM_Create}" (wall time per
// operation) and "cpu_time_per_op_ns{benchmark=BM_Create}" (the thread's CPU time per
// operation), the median over the program's own repetitions when it made any. Pure functions.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rcbench/v1/controller.pb.h"

namespace rcbench::controller {

// Parses a Google Benchmark JSON document. Times are converted to nanoseconds (the
// "percentage" unit of a "cv" aggregate is kept as a fraction). INVALID_ARGUMENT, naming the
// entry and field, for anything else than an object with a non-empty "benchmarks" list of
// entries with a name, iterations, real_time, cpu_time and a known time_unit; FAILED_PRECONDITION
// listing them when the program reports benchmarks that failed or skipped (error_occurred).
absl::StatusOr<std::vector<rcbench::v1::BenchmarkResult>> ParseGoogleBenchmarkJson(
    absl::string_view json);

// "time_per_op_ns{benchmark=BM_Create}".
std::string BenchmarkMetricKey(const std::string& metric, const std::string& benchmark);

// Per benchmark (by run_name): the median of its iteration rows' real and CPU time, or, when
// the program reported aggregates only, its "median" aggregate (else its "mean").
std::map<std::string, double> BenchmarkMetrics(
    const std::vector<rcbench::v1::BenchmarkResult>& results);

}  // namespace rcbench::controller
