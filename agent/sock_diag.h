#pragma once

// Per-container TCP socket counts from one NETLINK_SOCK_DIAG (inet_diag) dump per address
// family. On cgroup v2 the kernel reports each socket's cgroup id; on v1 hosts sockets are
// attributed through their owning processes (socket inode -> /proc/PID/fd of the container's
// processes). TIME_WAIT sockets carry no owner and are not dumped at all (a loaded host holds
// tens of thousands): HostCounterReader counts them from /proc/net/sockstat.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"

namespace rcbench::agent {

// Indexed by the kernel's TCP state numbers (TCP_ESTABLISHED = 1 ... TCP_NEW_SYN_RECV = 12).
inline constexpr int kTcpStateCount = 13;
using TcpStateCounts = std::array<uint32_t, kTcpStateCount>;
inline constexpr int kTcpTimeWait = 6;
// "ESTABLISHED", "SYN_SENT", ... as ss(8) prints them; "" for 0 and unknown numbers.
const char* TcpStateName(int state);

// One interval's dump. Value type.
struct SocketTable {
  TcpStateCounts host{};
  // Socket cgroup id (cgroup v2 inode) -> counts; TIME_WAIT sockets are not included.
  absl::flat_hash_map<uint64_t, TcpStateCounts> by_cgroup;
  // Socket inode -> state; filled only when the dump was asked for inodes (v1 attribution).
  absl::flat_hash_map<uint64_t, uint8_t> state_by_inode;
  uint64_t dump_errors = 0;
};

// The seam: a source of socket dumps. Thread-compatible.
class SocketDumper {
 public:
  virtual ~SocketDumper() = default;
  // Fills *out from a fresh dump of IPv4 and IPv6 TCP sockets. Errors: UNAVAILABLE when the
  // netlink socket cannot be used, INTERNAL on a malformed reply.
  virtual absl::Status Dump(bool want_inodes, SocketTable* out) = 0;
};

// The real one: a NETLINK_SOCK_DIAG socket kept open for the agent's lifetime.
class SockDiagDumper : public SocketDumper {
 public:
  SockDiagDumper();
  ~SockDiagDumper() override;
  absl::Status Dump(bool want_inodes, SocketTable* out) override;

 private:
  absl::Status DumpFamily(int family, bool want_inodes, SocketTable* out);
  int fd_ = -1;
  std::vector<char> buf_;
};

// Adds to *out the states of the sockets open in any of `pids` (read from
// `proc_dir`/PID/fd), each socket once. Processes that vanish meanwhile are skipped.
void CountSocketsOfPids(const std::vector<int>& pids, const SocketTable& table,
                        const std::string& proc_dir, TcpStateCounts* out);

}  // namespace rcbench::agent
