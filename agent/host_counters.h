#pragma once

// Host-wide kernel counters read each interval from kept-open /proc files: the aggregate CPU
// line of /proc/stat (softirq included), selected TCP counters of /proc/net/netstat (TcpExt)
// and /proc/net/snmp (Tcp), /proc/loadavg, and the TIME_WAIT count of /proc/net/sockstat
// (into tcp_time_wait and tcp_sockets["TIME_WAIT"]). Not thread-safe: one sampling thread
// owns it.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rcbench/v1/agent.pb.h"

namespace rcbench::agent {

// The counters copied into HostCounters.tcp, by their kernel names.
const std::vector<std::string>& TcpCounterNames();

// Parsers (exposed for tests). INVALID_ARGUMENT naming the file on malformed content.
absl::Status ParseProcStat(absl::string_view text, int64_t ticks_per_second,
                           rcbench::v1::HostCounters* out);
// "/proc/net/netstat" or "/proc/net/snmp" format: header/value line pairs per protocol.
// Copies the wanted counters of `section` ("TcpExt", "Tcp") into out->tcp.
absl::Status ParseProtoCounters(absl::string_view text, absl::string_view section,
                                rcbench::v1::HostCounters* out);
absl::Status ParseLoadAvg(absl::string_view text, rcbench::v1::HostCounters* out);
// The "tw N" field of the "TCP:" line of /proc/net/sockstat.
absl::Status ParseSockstatTimeWait(absl::string_view text, rcbench::v1::HostCounters* out);

class HostCounterReader {
 public:
  // Opens the files under `proc_dir` ("/proc", or a fake tree in tests). NOT_FOUND when
  // /proc/stat is missing; the network files are optional.
  static absl::StatusOr<std::unique_ptr<HostCounterReader>> Create(
      const std::string& proc_dir = "/proc");
  ~HostCounterReader();

  // Fills *out (time is left to the caller). Errors name the file.
  absl::Status Read(rcbench::v1::HostCounters* out);

 private:
  HostCounterReader() = default;
  int stat_fd_ = -1, netstat_fd_ = -1, snmp_fd_ = -1, loadavg_fd_ = -1, sockstat_fd_ = -1;
  std::string proc_dir_;
  std::vector<char> buf_;
  int64_t ticks_per_second_ = 100;
};

}  // namespace rcbench::agent
