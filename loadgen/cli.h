#pragma once

// The rcbench-loadgen command line: subcommands `http` (a wrk-compatible subset), `sclient`,
// `syn`, `classes --config FILE` and `serve`. Documented in loadgen/README.md.
// Exit codes: 0 success (also when stopped by SIGINT/SIGTERM), 1 runtime error (including a
// target refused by the allow-list), 2 bad flags.

#include <string>
#include <vector>

#include "loadgen/workload.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::loadgen {

int RunCli(int argc, char** argv);

// The `--json` object for a finished run: requests, duration, rps, latency percentiles (µs),
// errors by kind, CPU seconds; with more than one class, per-class objects under "classes";
// with `spec`, the socket engine ("io_engine", "io_batch") the run used.
std::string FormatJsonResult(const std::vector<rcbench::v1::ClassStats>& totals, double duration_s,
                             double cpu_s, const std::string& end_reason,
                             const RunSpec* spec = nullptr);

}  // namespace rcbench::loadgen
