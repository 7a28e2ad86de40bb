#pragma once

// Helpers for the controller's end-to-end tests: locate the binaries and the source tree,
// run `rcbench` as a child with captured output, and temporary directories. Header-only.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

// Starts `argv` (argv[0] a path) with output to `log` (truncated, or appended to), in the
// source tree; returns the pid.
inline pid_t SpawnArgv(std::vector<std::string> argv, const std::string& log, bool append = false) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), append ? "a" : "w");
    if (f != nullptr) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    chdir(SourceDir().c_str());
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    execv(c[0], c.data());
    _exit(127);
  }
  return pid;
}

// Starts `rcbench ARGS...` with output to `log`; returns the pid.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {BinDir() + "/rcbench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return SpawnArgv(std::move(argv), log);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline Result RunRcbench(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = Spawn(args, log);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ReadFile(log)};
}

inline bool Alive(pid_t pid) { return kill(pid, 0) == 0; }

// What `cmd` (run by the shell) prints on standard output.
inline std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

}  // namespace rcbench::e2e
