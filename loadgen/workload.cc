#include "loadgen/workload.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "common/yaml_fields.h"

namespace rcbench::loadgen {
namespace {

// Saturates instead of overflowing: an unvalidated Duration may hold any int64 seconds.
int64_t ToNanos(const google::protobuf::Duration& d) {
  constexpr int64_t kMaxSeconds = 9'000'000'000;
  if (d.seconds() > kMaxSeconds) return std::numeric_limits<int64_t>::max();
  if (d.seconds() < -kMaxSeconds) return std::numeric_limits<int64_t>::min();
  return d.seconds() * 1'000'000'000 + d.nanos();
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// The soft RLIMIT_NOFILE, or `configured` when set; unlimited (or unknown) as the largest value.
uint64_t OpenFilesLimit(uint64_t configured) {
  if (configured != 0) return configured;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<uint64_t>::max();
  }
  return rl.rlim_cur;
}

bool Overlaps(const Cidr& a, const Cidr& b) {
  return a.Contains(b.network()) || b.Contains(a.network());
}

// Spoofed sources must be addresses nothing we talk to uses: a SYN-ACK or RST to a spoofed
// loopback source lands on this host, one to the target lands on the target itself, and one to
// an allow-listed prefix reaches a machine the operator meant to load, not to flood.
absl::Status CheckSpoofPrefix(const Cidr& spoof, const IpAddress& target, const AllowList& allow) {
  const std::string p = spoof.ToString();
  if (spoof.Contains(target)) {
    return Invalid("syn_flood.spoof_cidr",
                   absl::StrCat(p, " contains the flood's own target ", target.ToString(),
                                ": the target would answer its own SYNs"));
  }
  for (const char* loopback : {"127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104"}) {
    const Cidr lo = *Cidr::Parse(loopback);
    if (Overlaps(spoof, lo)) {
      return Invalid("syn_flood.spoof_cidr",
                     absl::StrCat(p, " overlaps the loopback prefix ", loopback,
                                  ": answers to spoofed loopback sources would land on this host"));
    }
  }
  for (const Cidr& allowed : allow.prefixes()) {
    if (Overlaps(spoof, allowed)) {
      return Invalid(
          "syn_flood.spoof_cidr",
          absl::StrCat(p, " overlaps the allow-listed target prefix ", allowed.ToString(),
                       ": answers to spoofed sources would reach machines the "
                       "generator may load; spoof a prefix no target uses"));
    }
  }
  return absl::OkStatus();
}

bool ValidClassName(absl::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

SocketAddress SocketAddress::From(const IpAddress& ip, uint16_t port) {
  SocketAddress out;
  if (ip.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.bytes.data(), 4);
    out.length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

uint64_t ClassSpec::TotalSockets() const {
  switch (mode) {
    case Mode::kSClient:
      return uint64_t{clients} * sockets_per_client;
    case Mode::kOpenLoop:
      return max_connections;
    case Mode::kClosedLoop:
      return connections;
  }
  return 0;
}

absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url) {
  HttpUrl out;
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "URL \"", url, "\": expected http://HOST:PORT[/path] (https is not supported)"));
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  if (slash != absl::string_view::npos) out.path = std::string(rest.substr(slash));
  std::string hostport(authority);
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    has_port = authority.find("]:") != absl::string_view::npos;
  } else {
    has_port = authority.find(':') != absl::string_view::npos;
  }
  if (!has_port) hostport = absl::StrCat(authority, ":80");
  auto hp = ParseHostPort(hostport);
  if (!hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("URL \"", url, "\": ", hp.status().message()));
  }
  auto ip = IpAddress::Parse(hp->host);
  if (!ip.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", url, "\": the host must be a literal IPv4 or [IPv6] address (got \"",
                     hp->host, "\"); names are not resolved"));
  }
  if (hp->port == 0) {
    return absl::InvalidArgumentError(absl::StrCat("URL \"", url, "\": port 0 is not a target"));
  }
  out.ip = *ip;
  out.port = hp->port;
  out.host_header = std::string(authority);
  return out;
}

rcbench::v1::IoEngine ToProto(IoEngine engine) {
  return engine == IoEngine::kIoUring ? rcbench::v1::IO_ENGINE_IO_URING
                                      : rcbench::v1::IO_ENGINE_EPOLL;
}

absl::StatusOr<RunSpec> ValidateWorkload(const rcbench::v1::Workload& workload,
                                         const AllowList& allow, int64_t max_duration_ns) {
  WorkloadLimits limits;
  limits.max_duration_ns = max_duration_ns;
  return ValidateWorkload(workload, allow, limits);
}

absl::StatusOr<RunSpec> ValidateWorkload(const rcbench::v1::Workload& workload,
                                         const AllowList& allow, const WorkloadLimits& limits) {
  const int64_t max_duration_ns = limits.max_duration_ns;
  const uint64_t max_sockets = std::min(limits.max_sockets, kMaxMaxSockets);
  RunSpec spec;
  spec.duration_ns = ToNanos(workload.duration());
  if (spec.duration_ns <= 0) {
    return Invalid("duration", "is required and must be positive (every run is bounded)");
  }
  if (spec.duration_ns > max_duration_ns) {
    return Invalid("duration",
                   absl::StrCat(FormatDuration(std::chrono::nanoseconds(spec.duration_ns)),
                                " exceeds the generator's maximum of ",
                                FormatDuration(std::chrono::nanoseconds(max_duration_ns)),
                                " (--max-duration)"));
  }
  switch (workload.io_engine()) {
    case rcbench::v1::IO_ENGINE_UNSPECIFIED:
    case rcbench::v1::IO_ENGINE_EPOLL:
      spec.io_engine = IoEngine::kEpoll;
      break;
    case rcbench::v1::IO_ENGINE_IO_URING:
      spec.io_engine = IoEngine::kIoUring;
      break;
    default:
      return Invalid("io_engine", "must be IO_ENGINE_EPOLL or IO_ENGINE_IO_URING");
  }
  if (workload.io_batch() > 1) {
    if (spec.io_engine != IoEngine::kIoUring) {
      return Invalid("io_batch", "batches io_uring completions: it needs io_engine io_uring");
    }
    if (workload.io_batch() > 1024) return Invalid("io_batch", "at most 1024");
    spec.io_batch = workload.io_batch();
  }
  if (workload.has_io_batch_wait()) {
    spec.io_batch_wait_ns = ToNanos(workload.io_batch_wait());
    if (spec.io_batch_wait_ns <= 0 || spec.io_batch_wait_ns > 10'000'000) {
      return Invalid("io_batch_wait", "must be in (0, 10ms]");
    }
  }
  spec.threads = workload.threads();
  if (spec.threads == 0) spec.threads = std::max(1u, std::thread::hardware_concurrency());
  if (spec.threads > kMaxWorkerThreads) {
    return Invalid("threads",
                   absl::StrCat(spec.threads, " exceeds the maximum of ", kMaxWorkerThreads));
  }
  if (workload.has_stats_interval()) {
    spec.stats_interval_ns = ToNanos(workload.stats_interval());
    if (spec.stats_interval_ns < 10'000'000) return Invalid("stats_interval", "at least 10ms");
  }
  if (workload.http_classes().empty() && !workload.has_syn_flood()) {
    return Invalid("workload", "has neither http_classes nor a syn_flood");
  }
  if (workload.http_classes_size() > kMaxHttpClasses) {
    return Invalid("http_classes",
                   absl::StrCat(workload.http_classes_size(), " classes exceed the maximum of ",
                                kMaxHttpClasses));
  }

  // Sums over the classes, all in 64 bits: sockets, dedicated worker threads, the largest share
  // of the pool, open-loop rate and request bytes copied into workers.
  uint64_t total_sockets = 0;
  uint64_t dedicated_threads = 0;
  uint64_t pool_workers = 0;
  double total_rate_rps = 0;
  uint64_t request_bytes = 0;
  spec.classes.reserve(static_cast<size_t>(workload.http_classes_size()));
  for (int i = 0; i < workload.http_classes_size(); ++i) {
    const auto& in = workload.http_classes(i);
    const std::string f = absl::StrCat("http_classes[", i, "]");
    ClassSpec c;
    if (!ValidClassName(in.name())) {
      return Invalid(f + ".name", absl::StrCat("\"", absl::CHexEscape(in.name().substr(0, 64)),
                                               "\" must match [A-Za-z0-9_-]{1,32}"));
    }
    c.name = in.name();
    for (const auto& other : spec.classes) {
      if (other.name == c.name)
        return Invalid(f + ".name", absl::StrCat("\"", c.name, "\" repeats"));
    }
    auto url = ParseHttpUrl(in.target());
    if (!url.ok()) return Invalid(f + ".target", url.status().message());
    if (url->path != "/") {
      return Invalid(f + ".target", "must be http://HOST:PORT; put paths in `paths`");
    }
    RCBENCH_RETURN_IF_ERROR(allow.Check(url->ip, absl::StrCat(f, ".target")));
    c.target_ip = url->ip;
    c.target_port = url->port;
    c.target = SocketAddress::From(url->ip, url->port);
    c.host_header = url->host_header;
    if (in.source_addresses_size() > kMaxSourceAddresses) {
      return Invalid(f + ".source_addresses",
                     absl::StrCat(in.source_addresses_size(), " addresses exceed the maximum of ",
                                  kMaxSourceAddresses));
    }
    for (int j = 0; j < in.source_addresses_size(); ++j) {
      auto ip = IpAddress::Parse(in.source_addresses(j));
      if (!ip.ok()) {
        return Invalid(absl::StrCat(f, ".source_addresses[", j, "]"), ip.status().message());
      }
      if (ip->family != url->ip.family) {
        return Invalid(absl::StrCat(f, ".source_addresses[", j, "]"),
                       "address family differs from the target's");
      }
      c.sources.push_back(SocketAddress::From(*ip, 0));
    }
    if (in.paths_size() > kMaxPathsPerClass) {
      return Invalid(f + ".paths", absl::StrCat(in.paths_size(), " paths exceed the maximum of ",
                                                kMaxPathsPerClass));
    }
    if (in.headers_size() > kMaxHeadersPerClass) {
      return Invalid(
          f + ".headers",
          absl::StrCat(in.headers_size(), " headers exceed the maximum of ", kMaxHeadersPerClass));
    }
    for (int j = 0; j < in.paths_size(); ++j) {
      const auto& p = in.paths(j);
      const std::string pf = absl::StrCat(f, ".paths[", j, "]");
      if (p.path().empty() || p.path()[0] != '/') return Invalid(pf + ".path", "must start with /");
      if (p.path().size() > kMaxPathBytes) {
        return Invalid(pf + ".path", absl::StrCat(p.path().size(), " bytes exceed the maximum of ",
                                                  kMaxPathBytes));
      }
      for (char ch : p.path()) {
        const auto uc = static_cast<unsigned char>(ch);
        if (uc <= ' ' || uc >= 0x7f)
          return Invalid(pf + ".path", "contains a space, control or non-ASCII byte");
      }
      if (p.weight() == 0) return Invalid(pf + ".weight", "must be > 0");
      c.paths.emplace_back(p.path(), p.weight());
    }
    if (c.paths.empty()) c.paths.emplace_back("/", 1);
    uint64_t header_bytes = 0;
    for (int j = 0; j < in.headers_size(); ++j) {
      const std::string& h = in.headers(j);
      const std::string hf = absl::StrCat(f, ".headers[", j, "]");
      if (h.size() > kMaxHeaderBytes) {
        return Invalid(hf,
                       absl::StrCat(h.size(), " bytes exceed the maximum of ", kMaxHeaderBytes));
      }
      const size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0 ||
          h.find_first_of("\r\n\0", 0, 3) != std::string::npos) {
        return Invalid(hf, absl::StrCat("\"", absl::CHexEscape(h), "\" is not \"Name: value\""));
      }
      header_bytes += h.size() + 2;
      c.headers.push_back(h);
    }
    c.keep_alive = in.keep_alive();
    c.linger_zero = in.linger_zero();
    if (in.threads() > 64) return Invalid(f + ".threads", "must be at most 64");
    c.threads = in.threads();
    if (in.has_response_timeout()) {
      c.response_timeout_ns = ToNanos(in.response_timeout());
      if (c.response_timeout_ns <= 0) return Invalid(f + ".response_timeout", "must be positive");
    }
    std::string sockets_field;  // what TotalSockets() is made of, for errors
    switch (in.mode_case()) {
      case rcbench::v1::HttpClass::kSclient: {
        c.mode = Mode::kSClient;
        c.clients = in.sclient().clients();
        c.sockets_per_client = in.sclient().sockets_per_client();
        if (c.sockets_per_client == 0)
          return Invalid(f + ".sclient.sockets_per_client", "must be > 0");
        if (in.sclient().has_connect_timeout()) {
          c.connect_timeout_ns = ToNanos(in.sclient().connect_timeout());
          if (c.connect_timeout_ns <= 0)
            return Invalid(f + ".sclient.connect_timeout", "must be positive");
        }
        sockets_field = absl::StrCat(f, ".sclient: clients (", c.clients,
                                     ") x sockets_per_client (", c.sockets_per_client, ") = ");
        break;
      }
      case rcbench::v1::HttpClass::kOpenLoop: {
        c.mode = Mode::kOpenLoop;
        c.rate_rps = in.open_loop().rate_rps();
        if (!(c.rate_rps > 0) || !std::isfinite(c.rate_rps) || c.rate_rps > kMaxTotalRateRps) {
          return Invalid(f + ".open_loop.rate_rps", "must be in (0, 1e7]");
        }
        total_rate_rps += c.rate_rps;
        c.poisson = in.open_loop().arrival() == rcbench::v1::OpenLoopMode::ARRIVAL_POISSON;
        if (in.open_loop().max_connections() != 0)
          c.max_connections = in.open_loop().max_connections();
        c.connect_timeout_ns = c.response_timeout_ns;
        sockets_field = absl::StrCat(f, ".open_loop.max_connections: ");
        break;
      }
      case rcbench::v1::HttpClass::kClosedLoop: {
        c.mode = Mode::kClosedLoop;
        c.connections = in.closed_loop().connections();
        if (c.connections == 0) return Invalid(f + ".closed_loop.connections", "must be > 0");
        c.connect_timeout_ns = c.response_timeout_ns;
        sockets_field = absl::StrCat(f, ".closed_loop.connections: ");
        break;
      }
      default:
        return Invalid(f, "needs a mode: sclient, open_loop or closed_loop");
    }
    const uint64_t sockets = c.TotalSockets();
    if (sockets > max_sockets) {
      return absl::InvalidArgumentError(absl::StrCat(
          sockets_field, sockets, " concurrent sockets exceed the generator's maximum of ",
          max_sockets, " (--max-sockets)"));
    }
    total_sockets += sockets;
    if (total_sockets > max_sockets) {
      return Invalid("http_classes",
                     absl::StrCat("http_classes[0..", i, "] together need ", total_sockets,
                                  " concurrent sockets, more than the generator's maximum of ",
                                  max_sockets, " (--max-sockets)"));
    }
    // PlanWorkers gives a class at most one worker per socket.
    const uint64_t workers = std::max<uint64_t>(
        1, std::min<uint64_t>(c.threads > 0 ? c.threads : spec.threads, sockets));
    if (c.threads > 0) {
      dedicated_threads += workers;
    } else {
      pool_workers = std::max(pool_workers, workers);
    }
    uint64_t mix_bytes = 0;
    for (const auto& [path, weight] : c.paths) {
      mix_bytes += path.size() + c.host_header.size() + header_bytes + 64;
    }
    request_bytes += mix_bytes * workers;
    if (request_bytes > kMaxRequestBytesTotal) {
      return Invalid(f + ".paths",
                     absl::StrCat("the request mix (", mix_bytes, " bytes, copied into ", workers,
                                  " workers) brings the workload's request bytes to ",
                                  request_bytes, ", more than the maximum of ",
                                  kMaxRequestBytesTotal, "; use fewer paths or headers"));
    }
    spec.classes.push_back(std::move(c));
  }
  if (total_rate_rps > kMaxTotalRateRps) {
    return Invalid("http_classes", absl::StrCat("open_loop.rate_rps sums to ", total_rate_rps,
                                                " over the classes, more than 1e7"));
  }
  if (spec.threads + dedicated_threads > kMaxWorkerThreads) {
    return Invalid("threads",
                   absl::StrCat("threads (", spec.threads,
                                ") + the sum of http_classes[].threads (", dedicated_threads,
                                ") exceeds the maximum of ", kMaxWorkerThreads, " worker threads"));
  }

  if (workload.has_syn_flood()) {
    const auto& in = workload.syn_flood();
    FloodSpec fl;
    auto hp = ParseHostPort(in.target());
    if (!hp.ok()) return Invalid("syn_flood.target", hp.status().message());
    auto ip = IpAddress::Parse(hp->host);
    if (!ip.ok()) return Invalid("syn_flood.target", "host must be a literal IP address");
    if (hp->port == 0) return Invalid("syn_flood.target", "port must be > 0");
    RCBENCH_RETURN_IF_ERROR(allow.Check(*ip, "syn_flood.target"));
    fl.target_ip = *ip;
    fl.target_port = hp->port;
    auto spoof = Cidr::Parse(in.spoof_cidr());
    if (!spoof.ok()) return Invalid("syn_flood.spoof_cidr", spoof.status().message());
    if (spoof->family() != ip->family) {
      return Invalid("syn_flood.spoof_cidr", "address family differs from the target's");
    }
    RCBENCH_RETURN_IF_ERROR(CheckSpoofPrefix(*spoof, *ip, allow));
    fl.spoof = *spoof;
    fl.rate_pps = in.rate_pps();
    if (fl.rate_pps < 0 || !std::isfinite(fl.rate_pps) || fl.rate_pps > 1e8) {
      return Invalid("syn_flood.rate_pps", "must be in [0, 1e8] (0: as fast as possible)");
    }
    fl.senders = in.senders();
    if (fl.senders == 0) fl.senders = std::max(1u, std::thread::hardware_concurrency());
    if (fl.senders > 256) return Invalid("syn_flood.senders", "at most 256");
    if (in.interface().size() >= IFNAMSIZ) {
      return Invalid("syn_flood.interface",
                     absl::StrCat("interface names are shorter than ", IFNAMSIZ, " bytes"));
    }
    fl.interface = in.interface();
    spec.flood = fl;
  }

  const uint64_t workers = spec.classes.empty() ? 0 : pool_workers + dedicated_threads;
  const uint64_t senders = spec.flood ? spec.flood->senders : 0;
  const uint64_t needed = total_sockets + workers + senders + kReservedDescriptors;
  const uint64_t open_files = OpenFilesLimit(limits.open_files_limit);
  if (needed > open_files) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the workload needs about ", needed, " file descriptors (", total_sockets,
        " concurrent sockets of http_classes, ", workers, " workers, ", senders, " flood senders, ",
        kReservedDescriptors, " reserved) but this process's RLIMIT_NOFILE soft limit is ",
        open_files, ": raise it (ulimit -n, systemd LimitNOFILE=) or lower the counts"));
  }
  return spec;
}

}  // namespace rcbench::loadgen
