#include "controller/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rcbench::controller {

absl::StatusOr<std::map<std::string, std::string>> ParseReadyFile(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("ready file line \"", line, "\" has no '='; expected key=value"));
    }
    out[std::string(line.substr(0, eq))] =
        std::string(absl::StripTrailingAsciiWhitespace(line.substr(eq + 1)));
  }
  return out;
}

void ExecInChild(int out_fd, char* const* argv) {
  dup2(out_fd, STDOUT_FILENO);
  dup2(out_fd, STDERR_FILENO);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(argv[0], argv);
  _exit(127);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  if (access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot execute ", argv[0], ": ", strerror(errno)));
  }
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open log ", log_path, ": ", strerror(errno)));
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    ExecInChild(log_fd, cargv.data());
  }
  close(log_fd);
  std::string name = argv[0].substr(argv[0].find_last_of('/') + 1);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, name, log_path));
}

ChildProcess::~ChildProcess() { Stop(); }

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
    return false;
  }
  return r == 0;
}

std::string ChildProcess::LogTail(int lines) const {
  std::ifstream in(log_path_);
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + from, all.end(), "\n");
}

absl::StatusOr<std::map<std::string, std::string>> ChildProcess::WaitReady(
    const std::string& ready_file, std::chrono::nanoseconds timeout, Clock& clock) {
  const int64_t deadline = clock.MonotonicNanos() + timeout.count();
  while (true) {
    std::ifstream in(ready_file);
    if (in) {
      std::stringstream buf;
      buf << in.rdbuf();
      return ParseReadyFile(buf.str());
    }
    if (!Running()) {
      return absl::UnavailableError(
          absl::StrCat(name_, " exited before it was ready; its log:\n", LogTail()));
    }
    if (clock.MonotonicNanos() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          name_, " did not write its ready file within the timeout; its log:\n", LogTail()));
    }
    clock.SleepFor(std::chrono::milliseconds(20));
  }
}

std::string ChildProcess::Stop(std::chrono::nanoseconds grace) {
  if (!reaped_ && Running()) {
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (Running() && std::chrono::steady_clock::now() < deadline) {
      usleep(10000);
    }
    if (!reaped_) {
      kill(pid_, SIGKILL);
      int status;
      if (waitpid(pid_, &status, 0) == pid_) {
        reaped_ = true;
        wait_status_ = status;
      }
    }
  }
  if (WIFEXITED(wait_status_)) return absl::StrCat("exit ", WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) return absl::StrCat("signal ", WTERMSIG(wait_status_));
  return "unknown";
}

}  // namespace rcbench::controller
