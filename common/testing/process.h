#pragma once

// The test kit for launching binaries: start a program with arguments, environment and working
// directory, its standard output and error captured to files; wait (bounded) for a ready file
// or any condition; stop, kill and reap it. A Process kills and reaps its child (and the child's
// process group when it has its own) on destruction, so a failing test leaves nothing running.
// Every wait takes a deadline and fails with a message saying what was awaited and, for a
// process, what it printed. Header-only. A Process is not thread-safe; the free functions are.
//
// Errors: Start returns NotFound / PermissionDenied / Internal naming the program when it
// cannot be executed; waits return DeadlineExceeded naming what they waited for, or
// FailedPrecondition when the process exited before becoming ready.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/testing/wait_for.h"

extern char** environ;

namespace rcbench::testing {

// The contents of `path`, or "" if it cannot be read.
inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `key=value` lines (the daemons' ready files) as a map; other lines are ignored.
inline std::map<std::string, std::string> ParseKeyValueLines(absl::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// Waits for `path` to exist and hold at least one `key=value` line (a ready file is written
// whole, but may be observed between its creation and its write); returns its lines.
inline absl::StatusOr<std::map<std::string, std::string>> WaitForReadyFile(
    const std::string& path, std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> kv;
  absl::Status s = WaitFor(
      [&] {
        kv = ParseKeyValueLines(ReadFileOrEmpty(path));
        return !kv.empty();
      },
      timeout, absl::StrCat("ready file ", path));
  if (!s.ok()) return s;
  return kv;
}

struct ProcessOptions {
  // Added to (or replacing entries of) the inherited environment, as "NAME=value".
  std::vector<std::string> env;
  // Working directory of the child; empty: the test's.
  std::string cwd;
  // Where standard output and error go; empty: files in the process's temp directory. Equal
  // paths share one file (output interleaved as written).
  std::string stdout_path;
  std::string stderr_path;
  // Standard error goes where standard output goes (stderr_path is then ignored).
  bool merge_stderr = false;
  // Append to stdout_path/stderr_path instead of truncating them.
  bool append = false;
  // > 0: the child's RLIMIT_NOFILE.
  rlim_t max_open_files = 0;
  // The child gets SIGKILL if the test process dies (PR_SET_PDEATHSIG).
  bool die_with_parent = true;
  // The child leads its own process group; Kill and the destructor signal the whole group.
  bool own_process_group = false;
};

// A child process running a binary. Move-only through unique_ptr; see the file comment.
class Process {
 public:
  // Starts `argv` (argv[0] a path, or a name looked up in PATH). Fails if it cannot be
  // executed at all.
  static absl::StatusOr<std::unique_ptr<Process>> Start(std::vector<std::string> argv,
                                                        ProcessOptions options = {}) {
    if (argv.empty()) return absl::InvalidArgumentError("Process::Start: empty argv");
    std::unique_ptr<Process> p(new Process());
    p->dir_ = std::filesystem::temp_directory_path() /
              absl::StrCat("rcbench-proc-", getpid(), "-", counter_.fetch_add(1));
    std::error_code ec;
    std::filesystem::remove_all(p->dir_, ec);
    std::filesystem::create_directories(p->dir_, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("creating ", p->dir_.string(), ": ", ec.message()));
    p->stdout_path_ =
        options.stdout_path.empty() ? (p->dir_ / "stdout").string() : options.stdout_path;
    p->stderr_path_ = options.merge_stderr          ? p->stdout_path_
                      : options.stderr_path.empty() ? (p->dir_ / "stderr").string()
                                                    : options.stderr_path;
    p->own_group_ = options.own_process_group;
    p->name_ = argv[0];

    std::string program = argv[0];
    if (program.find('/') == std::string::npos) {
      const char* path_env = std::getenv("PATH");
      std::istringstream dirs(path_env ? path_env : "/usr/bin:/bin");
      for (std::string d; std::getline(dirs, d, ':');) {
        std::string candidate = d + "/" + program;
        if (access(candidate.c_str(), X_OK) == 0) {
          program = candidate;
          break;
        }
      }
    }

    // Everything the child needs is prepared here: between fork and exec only
    // async-signal-safe calls are allowed (the test may have other threads).
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      absl::string_view kv(*e);
      env[std::string(kv.substr(0, kv.find('=')))] = std::string(kv);
    }
    for (const auto& kv : options.env) env[kv.substr(0, kv.find('='))] = kv;
    std::vector<std::string> env_strings;
    for (auto& [k, v] : env) env_strings.push_back(v);
    std::vector<char*> cenv;
    for (auto& e : env_strings) cenv.push_back(e.data());
    cenv.push_back(nullptr);

    const int mode = O_WRONLY | O_CREAT | O_CLOEXEC | (options.append ? O_APPEND : O_TRUNC);
    const int out_fd = open(p->stdout_path_.c_str(), mode, 0644);
    if (out_fd < 0) return OpenError(p->stdout_path_);
    const int err_fd = p->stderr_path_ == p->stdout_path_
                           ? dup(out_fd)
                           : open(p->stderr_path_.c_str(), mode, 0644);
    if (err_fd < 0) {
      close(out_fd);
      return OpenError(p->stderr_path_);
    }
    int exec_error[2];  // the child writes errno here if exec fails; closed on exec otherwise
    if (pipe2(exec_error, O_CLOEXEC) != 0) {
      close(out_fd);
      close(err_fd);
      return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
    }
    const pid_t parent = getpid();
    const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
    const pid_t pid = fork();
    if (pid == 0) {
      int err = 0;
      if (options.die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126);
      }
      if (options.own_process_group) setpgid(0, 0);
      if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) err = errno;
      if (err == 0 && cwd != nullptr && chdir(cwd) != 0) err = errno;
      if (err == 0 && options.max_open_files > 0) {
        rlimit lim{options.max_open_files, options.max_open_files};
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) err = errno;
      }
      if (err == 0) {
        execve(program.c_str(), cargv.data(), cenv.data());
        err = errno;
      }
      (void)!write(exec_error[1], &err, sizeof(err));
      _exit(127);
    }
    close(out_fd);
    close(err_fd);
    close(exec_error[1]);
    if (pid < 0) {
      close(exec_error[0]);
      return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    }
    p->pid_ = pid;
    int child_errno = 0;
    ssize_t n;
    do {
      n = read(exec_error[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    close(exec_error[0]);
    if (n == sizeof(child_errno)) {
      p->Reap(/*block=*/true);
      const std::string msg =
          absl::StrCat("cannot execute ", program, ": ", std::strerror(child_errno));
      if (child_errno == ENOENT) return absl::NotFoundError(msg);
      if (child_errno == EACCES) return absl::PermissionDeniedError(msg);
      return absl::InternalError(msg);
    }
    return p;
  }

  ~Process() {
    if (pid_ > 0 && !exited_) {
      Kill(SIGKILL);
      Reap(/*block=*/true);
    } else if (pid_ > 0 && own_group_) {
      kill(-pid_, SIGKILL);  // stragglers of the group
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // A directory for this process's files, removed with it.
  const std::filesystem::path& dir() const { return dir_; }

  // True until the child has exited (reaps it when it has).
  bool Running() {
    Reap(/*block=*/false);
    return !exited_;
  }

  // Sends `sig` to the child (to its group if it has its own). No-op once reaped.
  void Kill(int sig = SIGKILL) {
    if (pid_ <= 0 || exited_) return;
    kill(own_group_ ? -pid_ : pid_, sig);
  }

  // Waits up to `timeout` for the child to exit; returns its exit code, 128 + N for signal N.
  absl::StatusOr<int> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    absl::Status s =
        WaitFor([this] { return !Running(); }, timeout,
                absl::StrCat(name_, " (pid ", pid_, ") to exit"), std::chrono::milliseconds(5));
    if (!s.ok()) return s;
    return exit_code();
  }

  // SIGTERM, then Wait up to `timeout`; SIGKILL (and DeadlineExceeded) if it did not exit.
  absl::StatusOr<int> Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    Kill(SIGTERM);
    absl::StatusOr<int> code = Wait(timeout);
    if (!code.ok()) {
      Kill(SIGKILL);
      Reap(/*block=*/true);
    }
    return code;
  }

  // Waits for the process's ready file (`key=value` lines). Fails early, with what the
  // process printed, if it exits first; on timeout the message also carries its output.
  absl::StatusOr<std::map<std::string, std::string>> WaitForReadyFile(
      const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::map<std::string, std::string> kv;
    absl::Status s = WaitFor(
        [&] {
          kv = ParseKeyValueLines(ReadFileOrEmpty(path));
          return !kv.empty() || !Running();
        },
        timeout, absl::StrCat("ready file ", path, " of ", name_));
    if (!s.ok()) return absl::DeadlineExceededError(absl::StrCat(s.message(), Output()));
    if (kv.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(name_, " exited with code ", exit_code(),
                                                        " before writing ", path, Output()));
    }
    return kv;
  }

  // The exit code once exited (128 + N for signal N), else -1.
  int exit_code() const {
    if (!exited_) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  std::string Stdout() const { return ReadFileOrEmpty(stdout_path_); }
  std::string Stderr() const { return ReadFileOrEmpty(stderr_path_); }
  // Both streams, labelled, for failure messages.
  std::string Output() const {
    if (stdout_path_ == stderr_path_) return absl::StrCat("\n--- output:\n", Stdout());
    return absl::StrCat("\n--- stdout:\n", Stdout(), "\n--- stderr:\n", Stderr());
  }

 private:
  Process() = default;

  static absl::Status OpenError(const std::string& path) {
    return absl::InternalError(absl::StrCat("opening ", path, ": ", std::strerror(errno)));
  }

  void Reap(bool block) {
    if (pid_ <= 0 || exited_) return;
    pid_t r;
    do {
      r = waitpid(pid_, &status_, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_ || (r < 0 && errno == ECHILD)) exited_ = true;
  }

  static inline std::atomic<int> counter_{0};
  std::filesystem::path dir_;
  std::string stdout_path_;
  std::string stderr_path_;
  std::string name_;
  bool own_group_ = false;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

struct RunResult {
  int exit_code = -1;  // 128 + N for signal N
  std::string out;     // standard output
  std::string err;     // standard error
};

// Runs `argv` to completion within `timeout` (killed and DeadlineExceeded after it).
inline absl::StatusOr<RunResult> RunProcess(
    std::vector<std::string> argv, ProcessOptions options = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto p = Process::Start(std::move(argv), std::move(options));
  if (!p.ok()) return p.status();
  absl::StatusOr<int> code = (*p)->Wait(timeout);
  if (!code.ok())
    return absl::DeadlineExceededError(absl::StrCat(code.status().message(), (*p)->Output()));
  return RunResult{*code, (*p)->Stdout(), (*p)->Stderr()};
}

// Runs `command` with /bin/sh -c; output is stdout and stderr together. exit_code -1 if the
// shell could not be run or the command outlived `timeout`.
inline RunResult RunShell(const std::string& command,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  ProcessOptions o;
  o.merge_stderr = true;
  auto p = Process::Start({"/bin/sh", "-c", command}, o);
  if (!p.ok()) return RunResult{-1, std::string(p.status().message()), ""};
  absl::StatusOr<int> code = (*p)->Wait(timeout);
  return RunResult{code.ok() ? *code : -1, (*p)->Stdout(), ""};
}

}  // namespace rcbench::testing
