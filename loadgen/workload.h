#pragma once

// Validated, ready-to-run form of a rcbench.v1.Workload, and the two ways to build one besides
// gRPC: the `classes --config FILE` YAML format (documented in loadgen/README.md) and the
// command-line subcommands. ValidateWorkload is the single place where targets are checked
// against the allow-list, so every entry point (CLI, config, gRPC) goes through it before
// anything is sent.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cidr.h"
#include "common/load_vocabulary.h"
#include "loadgen/allow_list.h"
#include "rcbench/v1/loadgen.pb.h"

namespace rcbench::loadgen {

// A socket address (v4 or v6) with its length.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  static SocketAddress From(const IpAddress& ip, uint16_t port);
};

// The load class modes and socket engines are common/load_vocabulary.h's.
using Mode = LoadMode;

struct ClassSpec {
  std::string name;
  IpAddress target_ip;
  uint16_t target_port = 0;
  SocketAddress target;
  std::string host_header;  // "HOST:PORT" as written in the target
  std::vector<SocketAddress> sources;
  std::vector<std::pair<std::string, uint32_t>> paths;  // path, weight
  Mode mode = Mode::kClosedLoop;
  // S-Client.
  uint32_t clients = 0;
  uint32_t sockets_per_client = 0;
  int64_t connect_timeout_ns = 500'000'000;
  // Open loop.
  double rate_rps = 0;
  bool poisson = false;
  uint32_t max_connections = 1000;
  // Closed loop.
  uint32_t connections = 0;
  bool keep_alive = false;
  int64_t response_timeout_ns = 5'000'000'000;
  bool linger_zero = false;
  std::vector<std::string> headers;
  uint32_t threads = 0;  // dedicated workers; 0: the shared pool

  // Sockets this class keeps busy at once (S-Client: clients x sockets; closed: connections;
  // open loop: max_connections). Computed in 64 bits; ValidateWorkload bounds it by
  // WorkloadLimits::max_sockets (<= kMaxMaxSockets), so it fits 32 bits in a validated spec.
  uint64_t TotalSockets() const;
};

struct FloodSpec {
  IpAddress target_ip;
  uint16_t target_port = 0;
  Cidr spoof;
  double rate_pps = 0;  // 0: as fast as possible
  uint32_t senders = 0;
  std::string interface;
};

rcbench::v1::IoEngine ToProto(IoEngine engine);

struct RunSpec {
  std::vector<ClassSpec> classes;
  IoEngine io_engine = IoEngine::kEpoll;
  // io_uring completion batching (see Workload.io_batch); 1 = off.
  uint32_t io_batch = 1;
  int64_t io_batch_wait_ns = 200'000;
  std::optional<FloodSpec> flood;
  int64_t duration_ns = 0;
  uint32_t threads = 0;
  int64_t stats_interval_ns = 1'000'000'000;
  // CPUs to pin workers (and flood senders) to, round-robin; empty: not pinned (workers) or
  // one per CPU (senders).
  std::vector<int> cpus;
};

// "http://HOST:PORT[/path]" with HOST a literal IPv4 address or a bracketed IPv6 address.
// Sets `path` to the path part ("/" when absent) if non-null.
struct HttpUrl {
  IpAddress ip;
  uint16_t port = 80;
  std::string host_header;
  std::string path = "/";
};
absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url);

// Input limits. Every count that sizes an allocation or a loop is bounded by one of these before
// anything proportional to it is allocated (loadgen/README.md, "Limits").
inline constexpr int kMaxHttpClasses = 64;
inline constexpr int kMaxPathsPerClass = 256;
inline constexpr int kMaxHeadersPerClass = 64;
inline constexpr int kMaxSourceAddresses = 256;
inline constexpr int kMaxAllowTargets = 256;
inline constexpr size_t kMaxPathBytes = 2048;
inline constexpr size_t kMaxHeaderBytes = 4096;
// The request strings of every class are copied into every worker that serves the class.
inline constexpr uint64_t kMaxRequestBytesTotal = 64ull << 20;
// Worker threads of the pool plus the classes' own.
inline constexpr uint64_t kMaxWorkerThreads = 1024;
// Sum of the open-loop classes' rates (each worker's schedule backlog is sized from its rate).
inline constexpr double kMaxTotalRateRps = 1e7;
// Concurrent sockets of all classes together (S-Client clients x sockets_per_client, closed-loop
// connections, open-loop max_connections). Each costs ~4.5 KiB of generator memory up front.
inline constexpr uint64_t kDefaultMaxSockets = 65'536;
inline constexpr uint64_t kMaxMaxSockets = 4'194'304;
// Descriptors a run needs besides its sockets (gRPC, metrics, logs, epoll/io_uring per worker
// are added separately).
inline constexpr uint64_t kReservedDescriptors = 64;
// `classes --config` / `serve --config` files larger than this are refused unread.
inline constexpr uint64_t kMaxConfigBytes = 1 << 20;

// The generator-wide bounds ValidateWorkload enforces on top of the per-field ones.
struct WorkloadLimits {
  // duration must be in (0, max_duration_ns] (--max-duration).
  int64_t max_duration_ns = 0;
  // Concurrent sockets of all classes together (--max-sockets); at most kMaxMaxSockets.
  uint64_t max_sockets = kDefaultMaxSockets;
  // The process's soft RLIMIT_NOFILE to check the run's descriptors against; 0: read it with
  // getrlimit() at validation time (RLIM_INFINITY: no check).
  uint64_t open_files_limit = 0;
};

// Checks every field (INVALID_ARGUMENT naming it, e.g. "http_classes[1].paths[0].weight") and
// every target against `allow` (PERMISSION_DENIED), before anything proportional to a count in
// `workload` is allocated. Counts and their products and sums are computed in 64 bits and held
// to `limits` and the k* constants above (INVALID_ARGUMENT naming the fields, values and limit).
// A run that would need more descriptors than RLIMIT_NOFILE allows is RESOURCE_EXHAUSTED
// naming the limit. A flood's spoof prefix must not overlap loopback, its target or the
// allow-list (INVALID_ARGUMENT naming the prefix).
absl::StatusOr<RunSpec> ValidateWorkload(const rcbench::v1::Workload& workload,
                                         const AllowList& allow, const WorkloadLimits& limits);
// The same with default limits besides `max_duration_ns`.
absl::StatusOr<RunSpec> ValidateWorkload(const rcbench::v1::Workload& workload,
                                         const AllowList& allow, int64_t max_duration_ns);

// Parses the text of a config file (see LoadWorkloadConfig); `name` is used in errors.
// Sequence lengths are bounded by the k* limits as they are read (a YAML alias cannot multiply
// them past those). Never throws.
absl::StatusOr<rcbench::v1::Workload> ParseWorkloadConfig(absl::string_view text,
                                                          const std::string& name,
                                                          AllowList* allow);

// Reads the YAML config of `rcbench-loadgen classes --config FILE` (and `serve --config`):
// the workload, plus `allow_targets` prefixes, which are added to `allow` (it may be null when
// the caller has no use for them). Errors name the file and the key; a file larger than
// kMaxConfigBytes is INVALID_ARGUMENT without being parsed.
absl::StatusOr<rcbench::v1::Workload> LoadWorkloadConfig(const std::string& path, AllowList* allow);

}  // namespace rcbench::loadgen
