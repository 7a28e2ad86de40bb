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

void SetDuration(int64_t ns, google::protobuf::Duration* d) {
  d->set_seconds(ns / 1'000'000'000);
  d->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
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

namespace {

using yaml::Bad;
using yaml::CheckKeys;
using yaml::CheckList;

constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();

absl::StatusOr<uint32_t> U32(const std::string& file, const YAML::Node& n, const std::string& key) {
  RCBENCH_ASSIGN_OR_RETURN(uint64_t v, yaml::Uint(file, n, key, 0, kU32Max));
  return static_cast<uint32_t>(v);
}

absl::Status SetYamlDuration(const std::string& file, const YAML::Node& n, const std::string& key,
                             google::protobuf::Duration* d) {
  RCBENCH_ASSIGN_OR_RETURN(std::chrono::nanoseconds ns, yaml::Duration(file, n, key));
  SetDuration(ns.count(), d);
  return absl::OkStatus();
}

absl::Status ParseClass(const std::string& file, const YAML::Node& n, const std::string& where,
                        rcbench::v1::HttpClass* c) {
  RCBENCH_RETURN_IF_ERROR(
      CheckKeys(file, n, where,
                {"name", "target", "source_addresses", "paths", "mode", "clients", "sockets",
                 "connect_timeout", "rate", "arrival", "max_connections", "connections",
                 "keep_alive", "response_timeout", "linger_zero", "headers", "threads"}));
  if (n["name"]) {
    RCBENCH_ASSIGN_OR_RETURN(*c->mutable_name(), yaml::Scalar(file, n["name"], where + ".name"));
  }
  if (n["target"]) {
    RCBENCH_ASSIGN_OR_RETURN(*c->mutable_target(),
                             yaml::Scalar(file, n["target"], where + ".target"));
  }
  if (n["source_addresses"]) {
    const std::string key = where + ".source_addresses";
    RCBENCH_RETURN_IF_ERROR(CheckList(file, n["source_addresses"], key, kMaxSourceAddresses));
    for (const auto& s : n["source_addresses"]) {
      RCBENCH_ASSIGN_OR_RETURN(*c->add_source_addresses(), yaml::Scalar(file, s, key));
    }
  }
  if (n["paths"]) {
    const std::string key = where + ".paths";
    RCBENCH_RETURN_IF_ERROR(CheckList(file, n["paths"], key, kMaxPathsPerClass));
    for (const auto& p : n["paths"]) {
      auto* rp = c->add_paths();
      rp->set_weight(1);
      if (p.IsScalar()) {
        rp->set_path(p.Scalar());
        continue;
      }
      RCBENCH_RETURN_IF_ERROR(CheckKeys(file, p, key, {"path", "weight"}));
      if (p["path"]) {
        RCBENCH_ASSIGN_OR_RETURN(*rp->mutable_path(), yaml::Scalar(file, p["path"], key + ".path"));
      }
      if (p["weight"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t weight, U32(file, p["weight"], key + ".weight"));
        rp->set_weight(weight);
      }
    }
  }
  if (!n["mode"]) {
    return Bad(file, n, where + ".mode", absl::StrCat("missing; expected ", kLoadModeNames));
  }
  RCBENCH_ASSIGN_OR_RETURN(const std::string mode_name,
                           yaml::Scalar(file, n["mode"], where + ".mode"));
  const std::optional<LoadMode> mode = ParseLoadMode(mode_name);
  if (!mode) {
    return Bad(
        file, n["mode"], where + ".mode",
        absl::StrCat("\"", mode_name, "\" is not a load class mode; expected ", kLoadModeNames));
  }
  // Keys of another mode are ignored, as in the protocol's oneof.
  switch (*mode) {
    case LoadMode::kSClient: {
      auto* m = c->mutable_sclient();
      m->set_clients(1);
      m->set_sockets_per_client(1);
      if (n["clients"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["clients"], where + ".clients"));
        m->set_clients(v);
      }
      if (n["sockets"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["sockets"], where + ".sockets"));
        m->set_sockets_per_client(v);
      }
      if (n["connect_timeout"]) {
        RCBENCH_RETURN_IF_ERROR(SetYamlDuration(
            file, n["connect_timeout"], where + ".connect_timeout", m->mutable_connect_timeout()));
      }
      break;
    }
    case LoadMode::kOpenLoop: {
      auto* m = c->mutable_open_loop();
      if (n["rate"]) {
        RCBENCH_ASSIGN_OR_RETURN(
            const double rate,
            yaml::Double(file, n["rate"], where + ".rate", 0, std::numeric_limits<double>::max()));
        m->set_rate_rps(rate);
      }
      std::string arrival = "constant";
      if (n["arrival"]) {
        RCBENCH_ASSIGN_OR_RETURN(arrival, yaml::Scalar(file, n["arrival"], where + ".arrival"));
      }
      if (arrival == "poisson") {
        m->set_arrival(rcbench::v1::OpenLoopMode::ARRIVAL_POISSON);
      } else if (arrival == "constant") {
        m->set_arrival(rcbench::v1::OpenLoopMode::ARRIVAL_CONSTANT);
      } else {
        return Bad(file, n["arrival"], where + ".arrival",
                   absl::StrCat("\"", arrival, "\" is not constant or poisson"));
      }
      if (n["max_connections"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t v,
                                 U32(file, n["max_connections"], where + ".max_connections"));
        m->set_max_connections(v);
      }
      break;
    }
    case LoadMode::kClosedLoop: {
      uint32_t connections = 1;
      if (n["connections"]) {
        RCBENCH_ASSIGN_OR_RETURN(connections, U32(file, n["connections"], where + ".connections"));
      }
      c->mutable_closed_loop()->set_connections(connections);
      break;
    }
  }
  for (auto [key, set] : {std::pair<const char*, void (rcbench::v1::HttpClass::*)(bool)>{
                              "keep_alive", &rcbench::v1::HttpClass::set_keep_alive},
                          {"linger_zero", &rcbench::v1::HttpClass::set_linger_zero}}) {
    if (!n[key]) continue;
    RCBENCH_ASSIGN_OR_RETURN(const bool b, yaml::Bool(file, n[key], absl::StrCat(where, ".", key)));
    (c->*set)(b);
  }
  if (n["threads"]) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["threads"], where + ".threads"));
    c->set_threads(v);
  }
  if (n["response_timeout"]) {
    RCBENCH_RETURN_IF_ERROR(SetYamlDuration(
        file, n["response_timeout"], where + ".response_timeout", c->mutable_response_timeout()));
  }
  if (n["headers"]) {
    const std::string key = where + ".headers";
    RCBENCH_RETURN_IF_ERROR(CheckList(file, n["headers"], key, kMaxHeadersPerClass));
    for (const auto& h : n["headers"]) {
      RCBENCH_ASSIGN_OR_RETURN(*c->add_headers(), yaml::Scalar(file, h, key));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<rcbench::v1::Workload> ParseConfig(const YAML::Node& root, const std::string& file,
                                                  AllowList* allow) {
  rcbench::v1::Workload w;
  if (root.IsNull()) return w;  // an empty file; ValidateWorkload asks for a duration
  RCBENCH_RETURN_IF_ERROR(CheckKeys(file, root, "the top level",
                                    {"allow_targets", "duration", "threads", "io", "io_batch",
                                     "io_batch_wait", "stats_interval", "classes", "syn_flood"}));
  if (root["allow_targets"]) {
    RCBENCH_RETURN_IF_ERROR(
        CheckList(file, root["allow_targets"], "allow_targets", kMaxAllowTargets));
    for (const auto& p : root["allow_targets"]) {
      RCBENCH_ASSIGN_OR_RETURN(const std::string prefix, yaml::Scalar(file, p, "allow_targets"));
      if (allow != nullptr) {
        absl::Status s = allow->Add(prefix);
        if (!s.ok()) return Bad(file, p, "allow_targets", s.message());
      }
    }
  }
  if (root["duration"]) {
    RCBENCH_RETURN_IF_ERROR(
        SetYamlDuration(file, root["duration"], "duration", w.mutable_duration()));
  }
  if (root["threads"]) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, root["threads"], "threads"));
    w.set_threads(v);
  }
  if (root["io"]) {
    RCBENCH_ASSIGN_OR_RETURN(const std::string name, yaml::Scalar(file, root["io"], "io"));
    const std::optional<IoEngine> io = ParseIoEngine(name);
    if (!io) {
      return yaml::Error(
          file, root["io"],
          absl::StrCat("io: \"", name, "\" is not an I/O engine (", kIoEngineNames, ")"));
    }
    w.set_io_engine(ToProto(*io));
  }
  if (root["io_batch"]) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, root["io_batch"], "io_batch"));
    w.set_io_batch(v);
  }
  if (root["io_batch_wait"]) {
    RCBENCH_RETURN_IF_ERROR(
        SetYamlDuration(file, root["io_batch_wait"], "io_batch_wait", w.mutable_io_batch_wait()));
  }
  if (root["stats_interval"]) {
    RCBENCH_RETURN_IF_ERROR(SetYamlDuration(file, root["stats_interval"], "stats_interval",
                                            w.mutable_stats_interval()));
  }
  if (root["classes"]) {
    RCBENCH_RETURN_IF_ERROR(CheckList(file, root["classes"], "classes", kMaxHttpClasses));
    int i = 0;
    for (const auto& n : root["classes"]) {
      RCBENCH_RETURN_IF_ERROR(
          ParseClass(file, n, absl::StrCat("classes[", i++, "]"), w.add_http_classes()));
    }
  }
  if (root["syn_flood"]) {
    const auto& n = root["syn_flood"];
    RCBENCH_RETURN_IF_ERROR(
        CheckKeys(file, n, "syn_flood", {"target", "spoof", "rate", "senders", "interface"}));
    auto* f = w.mutable_syn_flood();
    if (n["target"]) {
      RCBENCH_ASSIGN_OR_RETURN(*f->mutable_target(),
                               yaml::Scalar(file, n["target"], "syn_flood.target"));
    }
    if (n["spoof"]) {
      RCBENCH_ASSIGN_OR_RETURN(*f->mutable_spoof_cidr(),
                               yaml::Scalar(file, n["spoof"], "syn_flood.spoof"));
    }
    if (n["rate"]) {
      RCBENCH_ASSIGN_OR_RETURN(const double rate, yaml::Double(file, n["rate"], "syn_flood.rate", 0,
                                                               std::numeric_limits<double>::max()));
      f->set_rate_pps(rate);
    }
    if (n["senders"]) {
      RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["senders"], "syn_flood.senders"));
      f->set_senders(v);
    }
    if (n["interface"]) {
      RCBENCH_ASSIGN_OR_RETURN(*f->mutable_interface(),
                               yaml::Scalar(file, n["interface"], "syn_flood.interface"));
    }
  }
  return w;
}

}  // namespace

absl::StatusOr<rcbench::v1::Workload> ParseWorkloadConfig(absl::string_view text,
                                                          const std::string& name,
                                                          AllowList* allow) {
  RCBENCH_ASSIGN_OR_RETURN(const YAML::Node root, yaml::Load(text, name));
  try {
    return ParseConfig(root, name, allow);
  } catch (const YAML::Exception& e) {  // e.g. a recursive alias walked by an iterator
    return absl::InvalidArgumentError(
        absl::StrCat(yaml::Where(name, e.mark.line + 1, e.mark.column + 1), ": ", e.msg));
  }
}

absl::StatusOr<rcbench::v1::Workload> LoadWorkloadConfig(const std::string& path,
                                                         AllowList* allow) {
  RCBENCH_ASSIGN_OR_RETURN(const std::string text,
                           yaml::ReadFile(path, "config file", kMaxConfigBytes));
  return ParseWorkloadConfig(text, path, allow);
}

}  // namespace rcbench::loadgen
