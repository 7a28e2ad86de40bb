#pragma once

// A child process the controller starts in local mode (agent, load generator, server). The
// child gets PR_SET_PDEATHSIG(SIGTERM) before exec, so it dies with the controller even when
// the controller is SIGKILLed (the binaries also set it themselves with --die-with-parent).
// Stop() (and the destructor) sends SIGTERM, then SIGKILL after a grace period, and reaps it.
// Not thread-safe; create and stop from one long-lived thread (PDEATHSIG follows the thread
// that forked).

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace rcbench::controller {

// In a child between fork and exec (async-signal-safe calls only): stdout and stderr to
// `out_fd`, stdin from /dev/null, every signal unblocked, then execv(argv[0]); exits 127 if
// the exec fails.
[[noreturn]] void ExecInChild(int out_fd, char* const* argv);

// Parses a --ready-file ("key=value" lines). INVALID_ARGUMENT on a line without '='.
absl::StatusOr<std::map<std::string, std::string>> ParseReadyFile(const std::string& text);

class ChildProcess {
 public:
  // Starts argv[0] (a path) with stdout and stderr appended to `log_path`.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // True while it has not exited (reaps it if it has).
  bool Running();
  // Waits until `ready_file` exists and parses it. DEADLINE_EXCEEDED after `timeout`;
  // UNAVAILABLE (with the end of its log) if the child exits first.
  absl::StatusOr<std::map<std::string, std::string>> WaitReady(const std::string& ready_file,
                                                               std::chrono::nanoseconds timeout,
                                                               Clock& clock);
  // SIGTERM, then SIGKILL after `grace`. Returns the exit description ("exit 0", "signal 9").
  std::string Stop(std::chrono::nanoseconds grace = std::chrono::seconds(5));
  // The last `lines` lines of its log.
  std::string LogTail(int lines = 10) const;

 private:
  ChildProcess(pid_t pid, std::string name, std::string log_path)
      : pid_(pid), name_(std::move(name)), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string name_;
  std::string log_path_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

}  // namespace rcbench::controller
