#pragma once

// For privileged agent tests on this host's real cgroups: on every exit path, stops the agent
// (and a service by pid or by process group) and removes the test's root subtree from every
// hierarchy (moving stray processes to the hierarchy root first) and its temp dir.

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "agent/cgroup_layout.h"
#include "common/testing/process.h"
#include "common/testing/wait_for.h"

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
    agent.reset();  // SIGKILLed and reaped, before its containers go
    if (service_pid > 0) kill(service_pid, SIGKILL);
    if (service_pgid > 0) kill(-service_pgid, SIGKILL);
    for (const auto& [controller, mount] : layout_.mounts) Remove(mount, mount + "/" + root_);
    if (!tmp_dir.empty()) std::filesystem::remove_all(tmp_dir);
  }
  AgentTestCleanup(const AgentTestCleanup&) = delete;
  AgentTestCleanup& operator=(const AgentTestCleanup&) = delete;

  std::unique_ptr<::rcbench::testing::Process> agent;
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
    // A killed process leaves its cgroup only once it has exited: retry while it is busy.
    (void)::rcbench::testing::WaitFor([&] { return rmdir(dir.c_str()) == 0 || errno != EBUSY; },
                                      std::chrono::seconds(1), "rmdir " + dir);
  }
  CgroupLayout layout_;
  std::string root_;
};

}  // namespace rcbench::agent::testing
