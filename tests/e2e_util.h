#pragma once

// Helpers for the controller's end-to-end tests: locate the binaries and the source tree, start
// `rcbench` and the daemons on the test kit's Process (common/testing/process.h) with their
// output in a log, and temporary directories. Header-only.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/testing/process.h"

namespace rcbench::e2e {

inline std::string SourceDir() {
  const char* env = std::getenv("RCBENCH_SOURCE_DIR");
  if (env != nullptr) return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path().string();
}

inline std::string BinDir() {
  const char* env = std::getenv("RCBENCH_BIN_DIR");
  return env != nullptr ? env : "";
}

// The binaries local mode needs, or the first one missing.
inline std::string MissingBinary() {
  for (const char* b : {"rcbench", "rcbench-agent", "rcbench-loadgen", "rcbench-server"}) {
    std::string p = BinDir() + "/" + b;
    if (access(p.c_str(), X_OK) != 0) return p;
  }
  return "";
}

// A temporary directory removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("rcbench-" + tag + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& p) const { return (path_ / p).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// How the end-to-end tests run a binary: in the source tree (specs are named relative to it),
// standard output and error together in `log`, truncated or appended to.
inline rcbench::testing::ProcessOptions LoggedInSourceTree(const std::string& log,
                                                           bool append = false) {
  rcbench::testing::ProcessOptions o;
  o.cwd = SourceDir();
  o.stdout_path = log;
  o.merge_stderr = true;
  o.append = append;
  return o;
}

// Starts `rcbench ARGS...` with `options` (usually LoggedInSourceTree(log)).
inline absl::StatusOr<std::unique_ptr<rcbench::testing::Process>> StartRcbench(
    const std::vector<std::string>& args, rcbench::testing::ProcessOptions options) {
  std::vector<std::string> argv = {BinDir() + "/rcbench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return rcbench::testing::Process::Start(std::move(argv), std::move(options));
}

inline std::string ReadFile(const std::string& path) {
  return rcbench::testing::ReadFileOrEmpty(path);
}

// No `rcbench` invocation of these tests takes this long: a bound for when none is given, above
// every test's ctest timeout so that it never fails a run that ctest would let finish.
constexpr std::chrono::minutes kRcbenchBound(10);

// Runs `rcbench ARGS...` to its end with its output in `log`; exit_code -1 (and the reason at the
// end of the output) if it could not be started or outlived `timeout` (then it is killed).
inline Result RunRcbench(const std::vector<std::string>& args, const std::string& log,
                         std::chrono::milliseconds timeout = kRcbenchBound) {
  auto p = StartRcbench(args, LoggedInSourceTree(log));
  if (!p.ok()) return {-1, std::string(p.status().message())};
  absl::StatusOr<int> code = (*p)->Wait(timeout);
  if (!code.ok()) return {-1, ReadFile(log) + "\n" + std::string(code.status().message())};
  return {*code, ReadFile(log)};
}

inline bool Alive(pid_t pid) { return kill(pid, 0) == 0; }

// What `cmd` (run by the shell) prints on standard output; its standard error goes to the test's.
inline std::string Capture(const std::string& cmd) {
  auto r = rcbench::testing::RunProcess({"/bin/sh", "-c", cmd});
  if (!r.ok()) {
    std::cerr << r.status() << "\n";
    return "";
  }
  std::cerr << r->err;
  return r->out;
}

}  // namespace rcbench::e2e
