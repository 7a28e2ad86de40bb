#pragma once

// Command-line handling of rcbench-agent: flags, config resolution, the `snapshot`
// subcommand's output. main.cc wires these together.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/cgroup_layout.h"
#include "agent/config.h"
#include "common/logging.h"
#include "common/rpc_security.h"
#include "rcbench/v1/agent.pb.h"

namespace rcbench::agent {

struct AgentFlags {
  bool help = false;
  bool snapshot = false;  // the `snapshot` subcommand
  bool json = false;      // snapshot --json
  std::string listen = "127.0.0.1:0";
  std::string metrics_listen = "127.0.0.1:0";
  std::string config_path;
  std::optional<std::chrono::nanoseconds> interval;
  std::optional<std::string> root;
  std::string ready_file;
  LogLevel log_level = LogLevel::kInfo;
  bool die_with_parent = false;
  ServerSecurity security;  // --tls-*, --token-file, ...: override the config file's
  // For fake trees (tests, benchmarks): sample `cgroup_base` as a v1/v2/hybrid tree instead
  // of the host's mounts; other roots for /proc and /proc/sys; where service logs go.
  std::string cgroup_base;
  rcbench::v1::CgroupMode cgroup_mode = rcbench::v1::CGROUP_MODE_UNSPECIFIED;
  std::string proc_dir = "/proc";
  std::string sysctl_dir = "/proc/sys";
  std::string state_dir;
};

// INVALID_ARGUMENT naming the flag and what was expected.
absl::StatusOr<AgentFlags> ParseAgentFlags(int argc, char** argv);
std::string AgentUsage();

// The config file (or defaults) with the command line's --interval/--root and security flags
// applied.
absl::StatusOr<AgentConfig> ResolveConfig(const AgentFlags& flags);
// The host's layout, or the fake tree's when --cgroup-base is given.
absl::StatusOr<CgroupLayout> ResolveLayout(const AgentFlags& flags);

// One sample of the host and every container, taken in-process.
absl::StatusOr<rcbench::v1::UsageReport> TakeSnapshot(const AgentConfig& config,
                                                      const AgentFlags& flags);
std::string FormatReportTable(const rcbench::v1::UsageReport& report);
std::string FormatReportJson(const rcbench::v1::UsageReport& report);

}  // namespace rcbench::agent
