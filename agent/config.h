#pragma once

// The agent's own configuration file (YAML). It is the only source of the commands the agent
// may start and of the sysctls it may change: nothing received over the network can extend
// either list. See agent/README.md for the format. Value type.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/rpc_security.h"

namespace rcbench::agent {

struct ServiceSpec {
  std::string name;
  // argv of the command; argv[0] is an absolute path.
  std::vector<std::string> command;
  // ECMAScript regular expressions; each extra argument from StartService must match one
  // of them in full. Empty: no extra arguments allowed.
  std::vector<std::string> allowed_args;
  // Default container (under the root subtree).
  std::string container;
  // When set, the agent appends "<ready_file_flag> <path>" and waits for that file.
  std::string ready_file_flag;
  std::map<std::string, std::string> env;
};

// Bounds on StartService arguments, checked before any pattern is matched.
struct ServiceLimits {
  size_t max_arg_bytes = 4096;  // per argument
  size_t max_args = 256;        // per call
};

// The longest allowed-argument pattern accepted in the config (std::regex compiles recursively).
inline constexpr size_t kMaxArgPatternBytes = 1024;

struct AgentConfig {
  std::string root = "rcbench";
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::chrono::nanoseconds retention = std::chrono::minutes(10);
  uint64_t max_retained_bytes = 256ull << 20;
  std::string host;  // ContainerId.host; default: the host name
  bool sockets = true;
  // sock_diag dumps at most this often (0: every sample).
  std::chrono::nanoseconds sockets_interval = std::chrono::seconds(1);
  bool io = true;
  bool psi = true;
  uint32_t metrics_max_containers = 2000;
  std::vector<std::string> fact_sysctls = {
      "net.ipv4.tcp_syncookies", "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
      "net.core.netdev_max_backlog", "kernel.sched_autogroup_enabled"};
  std::vector<std::string> sysctl_allow;
  std::map<std::string, ServiceSpec> services;
  ServiceLimits service_limits;
  // Cgroup files the sampler keeps open across samples; containers beyond it are read with
  // open/read/close per sample. 0: half of the agent's RLIMIT_NOFILE soft limit.
  uint64_t max_open_cgroup_files = 0;
  // tls: {cert, key, ca}, token_file, read_token_file, insecure_plaintext (docs/SECURITY.md);
  // the command line's flags override these.
  ServerSecurity security;
};

inline constexpr std::chrono::nanoseconds kMinInterval = std::chrono::milliseconds(10);

// Parses YAML text; `origin` (a file name) prefixes error messages. Unknown keys, wrong types
// and out-of-range values are INVALID_ARGUMENT naming the key.
absl::StatusOr<AgentConfig> ParseAgentConfig(absl::string_view yaml, absl::string_view origin);
// Reads and parses a file; NOT_FOUND when it cannot be read.
absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path);

// Checks an interval against the supported range [10ms, 1h].
absl::Status ValidateInterval(std::chrono::nanoseconds interval);

}  // namespace rcbench::agent
