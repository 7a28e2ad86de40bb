#pragma once

// Runs the real rcbench-server binary for multi-process tests, on the test kit's Process
// (common/testing/process.h): arguments plus --ready-file, a bounded wait for the ready file,
// stop with SIGTERM. The destructor kills and reaps it on every path. Test-only; not
// thread-safe.

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/process.h"

namespace rcbench::server::testing {

inline std::string BinDir() {
  const char* dir = std::getenv("RCBENCH_BIN_DIR");
  return dir ? dir : "build/bin";
}

class ServerProcess {
 public:
  // Starts rcbench-server with `args` plus --ready-file. `max_open_files` > 0 lowers the
  // server's RLIMIT_NOFILE to it.
  explicit ServerProcess(std::vector<std::string> args, rlim_t max_open_files = 0) {
    args.insert(args.begin(), BinDir() + "/rcbench-server");
    rcbench::testing::ProcessOptions options;
    options.max_open_files = max_open_files;
    ready_ =
        (std::filesystem::temp_directory_path() / ("rcbench-srvproc-" + std::to_string(getpid()) +
                                                   "-" + std::to_string(counter_++) + ".ready"))
            .string();
    std::filesystem::remove(ready_);
    args.push_back("--ready-file");
    args.push_back(ready_);
    auto p = rcbench::testing::Process::Start(std::move(args), options);
    if (p.ok()) {
      process_ = std::move(*p);
    } else {
      start_error_ = std::string(p.status().message());
    }
  }
  ~ServerProcess() {
    process_.reset();
    std::filesystem::remove(ready_);
  }

  // Waits up to `timeout` for the ready file; false if the process died or it never came.
  bool WaitReady(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (process_ == nullptr) return false;
    auto kv = process_->WaitForReadyFile(ready_, timeout);
    if (!kv.ok()) return false;
    ready_values_ = *kv;
    return true;
  }

  // SIGTERM, then waits up to `timeout`; returns the exit code, or -1 (then kills it).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (process_ == nullptr) return -1;
    auto code = process_->Stop(timeout);
    return code.ok() ? *code : -1;
  }
  // Waits up to `timeout` for it to exit; returns the exit code, or -1.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (process_ == nullptr) return -1;
    auto code = process_->Wait(timeout);
    return code.ok() ? *code : -1;
  }

  std::string value(const std::string& key) const {
    auto it = ready_values_.find(key);
    return it == ready_values_.end() ? "" : it->second;
  }
  std::string Stderr() const { return process_ ? process_->Stderr() : start_error_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }

 private:
  static inline int counter_ = 0;
  std::string ready_;
  std::string start_error_;
  std::map<std::string, std::string> ready_values_;
  std::unique_ptr<rcbench::testing::Process> process_;
};

}  // namespace rcbench::server::testing
