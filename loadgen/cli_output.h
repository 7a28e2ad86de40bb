#pragma once

// What the rcbench-loadgen command line prints: a finished run as wrk-like text or as one JSON
// object, and its errors on stderr. Not thread-safe (writes stdout/stderr unsynchronised).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "loadgen/workload.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::loadgen {

// The `--json` object for a finished run: requests, duration, rps, latency percentiles (µs),
// errors by kind, CPU seconds; with more than one class, per-class objects under "classes";
// with `spec`, the socket engine ("io_engine", "io_batch") the run used.
std::string FormatJsonResult(const std::vector<rcbench::v1::ClassStats>& totals, double duration_s,
                             double cpu_s, const std::string& end_reason,
                             const RunSpec* spec = nullptr);

// Prints the run to stdout as text, per class (wrk's layout); `latency_distribution` adds the
// percentile table (--latency).
void PrintText(const std::vector<rcbench::v1::ClassStats>& totals, double duration_s, double cpu_s,
               const std::string& end_reason, bool latency_distribution);

// Prints "rcbench-loadgen SUB: message" to stderr and returns `code` (the exit code).
int Failure(const std::string& sub, const absl::Status& s, int code);

}  // namespace rcbench::loadgen
