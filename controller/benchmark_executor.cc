#include "controller/benchmark_executor.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/child_process.h"

namespace rcbench::controller {

LocalBenchmarkExecutor::LocalBenchmarkExecutor(std::string binary, std::string work_dir,
                                               Clock& clock)
    : binary_(std::move(binary)), work_dir_(std::move(work_dir)), clock_(clock) {}

absl::StatusOr<std::string> LocalBenchmarkExecutor::Run(const BenchmarkLaunch& launch,
                                                        const std::function<bool()>& abort) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(work_dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", work_dir_, ": ", ec.message()));
  const std::string out = (fs::path(work_dir_) / ("benchmark-" + launch.run_id + ".json")).string();
  const std::string log = (fs::path(work_dir_) / "benchmark.log").string();
  fs::remove(out, ec);
  std::vector<std::string> argv = {binary_};
  argv.insert(argv.end(), launch.args.begin(), launch.args.end());
  argv.push_back("--benchmark_out=" + out);
  argv.push_back("--benchmark_out_format=json");
  {
    std::ofstream l(log, std::ios::app);
    l << "==== run " << launch.run_id << ":";
    for (const auto& a : argv) l << " " << a;
    l << "\n";
  }
  RCBENCH_ASSIGN_OR_RETURN(auto child, ChildProcess::Spawn(argv, log));
  const int64_t deadline = clock_.MonotonicNanos() + launch.timeout.count();
  while (child->Running()) {
    if (abort && abort()) {
      child->Stop(std::chrono::seconds(2));
      return absl::AbortedError(absl::StrCat(child->name(), " stopped on request"));
    }
    if (clock_.MonotonicNanos() > deadline) {
      child->Stop(std::chrono::seconds(2));
      return absl::DeadlineExceededError(
          absl::StrCat(child->name(), " did not finish within ",
                       std::chrono::duration_cast<std::chrono::seconds>(launch.timeout).count(),
                       " s and was killed; its log (", log, "):\n", child->LogTail(5)));
    }
    clock_.SleepFor(std::chrono::milliseconds(20));
  }
  std::string how = child->Stop();
  if (how != "exit 0") {
    return absl::UnavailableError(absl::StrCat(child->name(), " failed (", how, "); its log (", log,
                                               "):\n", child->LogTail(5)));
  }
  std::ifstream in(out);
  if (!in) {
    return absl::UnavailableError(absl::StrCat(child->name(), " exited 0 but wrote no ", out,
                                               "; expected a Google Benchmark program (it must "
                                               "accept --benchmark_out)"));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  in.close();
  fs::remove(out, ec);
  return buf.str();
}

}  // namespace rcbench::controller
