#pragma once

// For privileged agent tests on this host's real cgroups: on every exit path, stops the agent
// (and a service by pid or by process group) and removes the test's root subtree from every
// hierarchy (moving stray processes to the hierarchy root first) and its temp dir.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "agent/cgroup_layout.h"

namespace rcbench::agent::testing {

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AgentTestCleanup {
 public:
  AgentTestCleanup(CgroupLayout layout, std::string root)
      : layout_(std::move(layout)), root_(std::move(root)) {}
  ~AgentTestCleanup() {
    if (agent_pid > 0) {
      kill(agent_pid, SIGKILL);
      waitpid(agent_pid, nullptr, 0);
    }
    if (service_pid > 0) kill(service_pid, SIGKILL);
    if (service_pgid > 0) kill(-service_pgid, SIGKILL);
    for (const auto& [controller, mount] : layout_.mounts) Remove(mount, mount + "/" + root_);
    if (!tmp_dir.empty()) std::filesystem::remove_all(tmp_dir);
  }
  AgentTestCleanup(const AgentTestCleanup&) = delete;
  AgentTestCleanup& operator=(const AgentTestCleanup&) = delete;

  pid_t agent_pid = -1;
  pid_t service_pid = -1;   // killed by pid
  pid_t service_pgid = -1;  // killed as a process group
  std::string tmp_dir;

 private:
  static void Remove(const std::string& mount, const std::string& dir) {
    if (!std::filesystem::is_directory(dir)) return;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.is_directory()) Remove(mount, e.path().string());
    }
    std::istringstream procs(Slurp(dir + "/cgroup.procs"));
    for (std::string pid; std::getline(procs, pid);) {
      std::ofstream(mount + "/cgroup.procs") << pid;
    }
    for (int i = 0; i < 100 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  CgroupLayout layout_;
  std::string root_;
};

}  // namespace rcbench::agent::testing
