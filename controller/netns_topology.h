#pragma once

// The network topology of local mode with `network: namespaces`: two network namespaces made
// for one experiment, `rcbs<id>` (agent and server) and `rcbc<id>` (load generator), joined by
// a veth pair on a private subnet (server 10.213.0.1/24, client 10.213.0.2/24), each also
// joined to the root namespace by a veth pair on a /30 of 10.214.0.0/16 so that the controller
// reaches the children's gRPC and /metrics listeners. `lo` is up in both, neither has a
// default route, and each spoofed-source prefix is routed from the server namespace back over
// the veth to the client namespace, where it is a `blackhole` route: answers to spoofed
// sources (SYN-ACKs) die there and cannot leave the host.
//
// NetnsTopology owns what Create() made and removes it in Destroy() (and its destructor): the
// namespaces (which takes their veth ends, and so the pairs, with them) and, in case, the
// root-side veths. Create() first removes a stale topology of the same names (left by a
// SIGKILLed controller whose pid is now ours). Not thread-safe.
//
// The signal-handler path: a registered topology is also removed by
// RemoveTopologiesFromSignalHandler(), which only uses async-signal-safe calls.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::controller {

// Runs a command to completion. The seam between the topology and `ip`.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // OK when the command exits 0; otherwise INTERNAL with the command and its output.
  virtual absl::Status Run(const std::vector<std::string>& argv) = 0;
};

// fork + execv (argv[0] is a path), stdout and stderr captured, stdin from /dev/null.
class SubprocessCommandRunner : public CommandRunner {
 public:
  absl::Status Run(const std::vector<std::string>& argv) override;
};

// The private data subnet between the two namespaces (identical in every topology: it exists
// only inside them).
inline constexpr char kNetnsServerAddress[] = "10.213.0.1";
inline constexpr char kNetnsClientAddress[] = "10.213.0.2";
inline constexpr char kNetnsDataSubnet[] = "10.213.0.0/24";
// The root-namespace links: one /29 per topology (server link .0/30, client link .4/30).
inline constexpr char kNetnsControlRange[] = "10.214.0.0/16";

// Paths of `ip` and `nsenter`, or FAILED_PRECONDITION naming what is missing: root (effective
// uid 0), iproute2's `ip`, util-linux's `nsenter`.
struct NetnsTools {
  std::string ip;
  std::string nsenter;
};
absl::StatusOr<NetnsTools> FindNetnsTools();

// INVALID_ARGUMENT unless `prefix` is an IPv4 CIDR outside 127.0.0.0/8 and the topology's own
// subnets (a spoofed-source prefix must be routable to the blackhole).
absl::Status CheckSpoofPrefix(absl::string_view prefix);

class NetnsTopology {
 public:
  // `id` makes the names unique (the controller's pid); `slot_hint` picks the root-link /29
  // (the first one from there whose addresses are not on a root-namespace interface is used).
  NetnsTopology(std::string id, std::vector<std::string> spoof_prefixes, NetnsTools tools,
                CommandRunner& runner, int slot_hint);
  ~NetnsTopology();
  NetnsTopology(const NetnsTopology&) = delete;
  NetnsTopology& operator=(const NetnsTopology&) = delete;

  // Makes the topology; on failure removes whatever it made and returns the failed command.
  absl::Status Create();
  // Removes everything; idempotent.
  void Destroy();
  bool created() const { return created_; }

  const std::string& server_ns() const { return server_ns_; }
  const std::string& client_ns() const { return client_ns_; }
  // Interfaces the topology makes in the root namespace.
  std::vector<std::string> root_interfaces() const;
  // Namespace-side addresses of the root links (listeners the controller connects to).
  std::string server_control_address() const;
  std::string client_control_address() const;
  // `argv` run in the namespace: nsenter --net=/var/run/netns/NS argv... (nsenter enters only
  // the network namespace and execs in place, so the pid is the program's; `ip netns exec`
  // would also remount /sys, hiding the cgroup hierarchies).
  std::vector<std::string> InNamespace(const std::string& ns,
                                       const std::vector<std::string>& argv) const;

 private:
  std::vector<std::vector<std::string>> CreateCommands() const;
  std::vector<std::vector<std::string>> DestroyCommands() const;
  std::string ControlAddress(int offset) const;

  std::string id_;
  std::vector<std::string> spoof_prefixes_;
  NetnsTools tools_;
  CommandRunner& runner_;
  int slot_;
  std::string server_ns_, client_ns_;
  bool created_ = false;
};

// Removes (`ip netns del`) every topology currently created, from a signal handler that is
// about to _exit: fork/execv/waitpid only. The namespaces' veths go with the last process in
// them (the children die with the controller).
void RemoveTopologiesFromSignalHandler();

}  // namespace rcbench::controller
