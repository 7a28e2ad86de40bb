#pragma once

// The seam through which the runner executes a micro-benchmark run (spec `benchmark`): start
// the program with the run's arguments, wait for it within a timeout, and hand back its JSON
// output. LocalBenchmarkExecutor runs it as a child process on this host (local mode); tests
// use a fake. Used from one thread (the runner's).

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace rcbench::controller {

struct BenchmarkLaunch {
  std::vector<std::string> args;  // rendered spec args
  std::chrono::nanoseconds timeout{std::chrono::minutes(10)};
  std::string run_id;
};

class BenchmarkExecutor {
 public:
  virtual ~BenchmarkExecutor() = default;
  // Runs the program to its end and returns its JSON output. Polls `abort` while it runs.
  // NOT_FOUND: the program cannot be executed; DEADLINE_EXCEEDED: it outlived the timeout and
  // was killed; ABORTED: `abort` returned true and it was killed; UNAVAILABLE: it exited
  // non-zero or wrote no output (the message ends with its log's last lines).
  virtual absl::StatusOr<std::string> Run(const BenchmarkLaunch& launch,
                                          const std::function<bool()>& abort) = 0;
};

// Runs `binary` (a path) with the run's args plus `--benchmark_out=WORK_DIR/benchmark-RUN.json
// --benchmark_out_format=json` (Google Benchmark's flags), its console output appended to
// WORK_DIR/benchmark.log. The JSON file is removed once read.
class LocalBenchmarkExecutor : public BenchmarkExecutor {
 public:
  LocalBenchmarkExecutor(std::string binary, std::string work_dir, Clock& clock);
  absl::StatusOr<std::string> Run(const BenchmarkLaunch& launch,
                                  const std::function<bool()>& abort) override;

 private:
  std::string binary_;
  std::string work_dir_;
  Clock& clock_;
};

}  // namespace rcbench::controller
