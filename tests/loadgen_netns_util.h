#pragma once

// Helpers for the load generator's privileged tests: run shell commands, read counters inside
// a network namespace, and a guard that removes the namespaces a test made on every path.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/process.h"

namespace rcbench::loadgen::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh (bounded by two minutes); exit_code 128 + N if signal N ended it.
inline CommandResult RunCommand(const std::string& command) {
  const rcbench::testing::RunResult r =
      rcbench::testing::RunShell(command, std::chrono::seconds(120));
  return CommandResult{r.exit_code, r.out};
}

inline bool HaveRootAndIp() {
  return geteuid() == 0 && RunCommand("ip netns list").exit_code == 0 &&
         RunCommand("unshare --help").exit_code == 0;
}

inline std::string LoadgenBinary() {
  const char* dir = std::getenv("RCBENCH_BIN_DIR");
  const std::string path = std::string(dir ? dir : "bin") + "/rcbench-loadgen";
  return access(path.c_str(), X_OK) == 0 ? path : "";
}

// Tcp: counters from /proc/net/snmp inside namespace `ns` (name -> value).
inline std::map<std::string, long long> TcpCounters(const std::string& ns) {
  const auto r = RunCommand("ip netns exec " + ns + " cat /proc/net/snmp");
  std::map<std::string, long long> out;
  std::istringstream in(r.output);
  std::string names, values;
  while (std::getline(in, names)) {
    if (names.rfind("Tcp:", 0) != 0) continue;
    std::getline(in, values);
    std::istringstream n(names), v(values);
    std::string name, value;
    n >> name;
    v >> value;
    while (n >> name && v >> value) out[name] = std::stoll(value);
    break;
  }
  return out;
}

// Deletes the namespaces (and with them their veths) when it goes out of scope.
class NetnsGuard {
 public:
  explicit NetnsGuard(std::vector<std::string> names) : names_(std::move(names)) {}
  ~NetnsGuard() {
    for (const auto& n : names_) RunCommand("ip netns del " + n);
  }

 private:
  std::vector<std::string> names_;
};

}  // namespace rcbench::loadgen::testing
