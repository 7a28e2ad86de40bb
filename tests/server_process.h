#pragma once

// Runs the real rcbench-server binary for multi-process tests: fork/exec with arguments, wait
// (bounded) for its ready file, stop it with SIGTERM. The destructor kills and reaps it on
// every path. Test-only; not thread-safe.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace rcbench::server::testing {

inline std::string BinDir() {
  const char* dir = std::getenv("RCBENCH_BIN_DIR");
  return dir ? dir : "build/bin";
}

class ServerProcess {
 public:
  // Starts rcbench-server with `args` plus --ready-file; stderr goes to a file in a temp dir.
  // `max_open_files` > 0 lowers the server's RLIMIT_NOFILE to it.
  explicit ServerProcess(std::vector<std::string> args, rlim_t max_open_files = 0) {
    dir_ = std::filesystem::temp_directory_path() /
           ("rcbench-srvproc-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    ready_ = (dir_ / "ready").string();
    args.insert(args.begin(), BinDir() + "/rcbench-server");
    args.push_back("--ready-file");
    args.push_back(ready_);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string err = (dir_ / "stderr").string();
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) dup2(fd, 2);
      if (max_open_files > 0) {
        rlimit lim{max_open_files, max_open_files};
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) _exit(126);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // Waits up to `timeout` for the ready file; false if the process died or it never came.
  bool WaitReady(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(ready_)) {
        std::ifstream in(ready_);
        std::string line;
        while (std::getline(in, line)) {
          size_t eq = line.find('=');
          if (eq != std::string::npos) ready_values_[line.substr(0, eq)] = line.substr(eq + 1);
        }
        return true;
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_status_ = status;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // SIGTERM, then waits up to `timeout`; returns the exit code, or -1 (then kills it).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!exited_) kill(pid_, SIGTERM);
    return Wait(timeout);
  }
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_ && std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &exit_status_, WNOHANG) == pid_) exited_ = true;
      if (!exited_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited_) return -1;
    return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : 128 + WTERMSIG(exit_status_);
  }

  std::string value(const std::string& key) const {
    auto it = ready_values_.find(key);
    return it == ready_values_.end() ? "" : it->second;
  }
  std::string Stderr() const {
    std::ifstream in(dir_ / "stderr");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  pid_t pid() const { return pid_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string ready_;
  std::map<std::string, std::string> ready_values_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_status_ = 0;
};

}  // namespace rcbench::server::testing
