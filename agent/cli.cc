#include "agent/cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/agent.h"
#include "agent/container_path.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace rcbench::agent {

std::string AgentUsage() {
  return R"(Usage:
  rcbench-agent [--listen ADDR] [--metrics-listen ADDR] [--config FILE] [--interval DUR]
                [--root NAME] [--ready-file PATH] [--log-level LEVEL] [--die-with-parent]
                [--state-dir DIR]
  rcbench-agent snapshot [--json] [--config FILE] [--root NAME]

Samples per-container usage (cgroups below the root subtree), host kernel counters and TCP
sockets every interval; serves the rcbench.v1.Agent gRPC service and Prometheus /metrics.

  --listen ADDR          gRPC address, host:port (port 0: ephemeral)  [127.0.0.1:0]
  --metrics-listen ADDR  /metrics address, host:port                   [127.0.0.1:0]
  --config FILE          agent config (YAML; see agent/README.md)      [defaults]
  --interval DUR         sampling interval, 10ms..1h (overrides config) [1s]
  --root NAME            root subtree below each cgroup mount; "/" = whole hierarchy [rcbench]
  --ready-file PATH      after binding, write pid=, grpc=, metrics= lines there (atomically)
  --log-level LEVEL      debug|info|warning|error                      [info]
  --die-with-parent      exit (SIGTERM) when the parent process dies
  --state-dir DIR        service logs, ready files and the journal: a restarted agent stops
                         and removes what a killed one left there [a temp dir, removed at exit]
  --help                 this text
)" + std::string(kServerSecurityUsage) +
         R"(
  The token file is required; TLS is required unless --listen is a loopback address
  (docs/SECURITY.md).

  snapshot               print one sample as a table (or one JSON object with --json) and exit

Testing flags: --cgroup-base DIR --cgroup-mode v1|v2|hybrid (sample a fake tree),
--proc-dir DIR, --sysctl-dir DIR.
)";
}

namespace {

constexpr FlagSpec kAgentFlags[] = {
    {"help", 'h', false},
    {"json", '\0', false},
    {"die-with-parent", '\0', false},
    {"insecure-plaintext", '\0', false},
    {"tls-cert", '\0', true, false, "a file name"},
    {"tls-key", '\0', true, false, "a file name"},
    {"tls-ca", '\0', true, false, "a file name"},
    {"token-file", '\0', true, false, "a file name"},
    {"read-token-file", '\0', true, false, "a file name"},
    {"listen", '\0', true, false, "host:port"},
    {"metrics-listen", '\0', true, false, "host:port"},
    {"config", '\0', true, false, "a file name"},
    {"interval", '\0', true, false, "a duration such as 1s or 100ms"},
    {"root", '\0', true, false, "a subtree name such as rcbench, or /"},
    {"ready-file", '\0', true, false, "a file name"},
    {"log-level", '\0', true, false, "debug|info|warning|error"},
    {"cgroup-base", '\0', true, false, "a directory"},
    {"cgroup-mode", '\0', true, false, "v1|v2|hybrid"},
    {"proc-dir", '\0', true, false, "a directory"},
    {"sysctl-dir", '\0', true, false, "a directory"},
    {"state-dir", '\0', true, false, "a directory"},
};

absl::Status FlagError(absl::string_view flag, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", s.message()));
}

}  // namespace

absl::StatusOr<AgentFlags> ParseAgentFlags(int argc, char** argv) {
  AgentFlags f;
  int first = 1;
  if (argc > 1 && std::string(argv[1]) == "snapshot") {
    f.snapshot = true;
    first = 2;
  }
  RCBENCH_ASSIGN_OR_RETURN(ParsedFlags args, ParseFlags(argc, argv, first, kAgentFlags));
  if (!args.positional().empty() || !args.rest().empty()) {
    const std::string& a = args.positional().empty() ? args.rest()[0] : args.positional()[0];
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument '", a, "'", f.snapshot ? " for snapshot" : "", " (see --help)"));
  }
  if (args.Has("json") && !f.snapshot) {
    return absl::InvalidArgumentError("flag --json: only with snapshot (see --help)");
  }
  f.help = args.Has("help");
  f.json = args.Has("json");
  f.die_with_parent = args.Has("die-with-parent");
  f.security.insecure_plaintext = args.Has("insecure-plaintext");
  for (const char* flag : kSecurityValueFlags) {
    const std::string name(absl::StripPrefix(flag, "--"));
    if (args.Has(name)) ApplySecurityFlag(flag, args.Get(name), f.security);
  }
  for (const char* name : {"listen", "metrics-listen"}) {
    if (!args.Has(name)) continue;
    auto hp = ParseHostPort(args.Get(name));
    if (!hp.ok()) return FlagError(name, hp.status());
    (std::string(name) == "listen" ? f.listen : f.metrics_listen) = args.Get(name);
  }
  f.config_path = args.Get("config");
  if (args.Has("interval")) {
    auto d = ParseDuration(args.Get("interval"));
    if (!d.ok()) return FlagError("interval", d.status());
    if (absl::Status s = ValidateInterval(*d); !s.ok()) return FlagError("interval", s);
    f.interval = *d;
  }
  if (args.Has("root")) {
    const std::string v = args.Get("root");
    if (v != "/" && !ValidateContainerPath(v).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--root: '", v, "' is not a subtree name (e.g. rcbench) or /"));
    }
    f.root = v;
  }
  f.ready_file = args.Get("ready-file");
  if (args.Has("log-level")) {
    auto l = ParseLogLevel(args.Get("log-level"));
    if (!l.ok()) return FlagError("log-level", l.status());
    f.log_level = *l;
  }
  f.cgroup_base = args.Get("cgroup-base");
  if (args.Has("cgroup-mode")) {
    const std::string v = args.Get("cgroup-mode");
    if (v == "v1") {
      f.cgroup_mode = rcbench::v1::CGROUP_MODE_V1;
    } else if (v == "v2") {
      f.cgroup_mode = rcbench::v1::CGROUP_MODE_V2;
    } else if (v == "hybrid") {
      f.cgroup_mode = rcbench::v1::CGROUP_MODE_HYBRID;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--cgroup-mode: expected v1|v2|hybrid, got '", v, "'"));
    }
  }
  f.proc_dir = args.Get("proc-dir", f.proc_dir);
  f.sysctl_dir = args.Get("sysctl-dir", f.sysctl_dir);
  f.state_dir = args.Get("state-dir");
  if (!f.cgroup_base.empty() && f.cgroup_mode == rcbench::v1::CGROUP_MODE_UNSPECIFIED) {
    return absl::InvalidArgumentError("--cgroup-base: needs --cgroup-mode v1|v2|hybrid");
  }
  return f;
}

absl::StatusOr<AgentConfig> ResolveConfig(const AgentFlags& flags) {
  AgentConfig config;
  if (!flags.config_path.empty()) {
    RCBENCH_ASSIGN_OR_RETURN(config, LoadAgentConfig(flags.config_path));
  }
  if (flags.interval) config.interval = *flags.interval;
  if (flags.root) config.root = *flags.root;
  config.security = MergeSecurity(config.security, flags.security);
  if (config.retention < config.interval) config.retention = config.interval;
  if (config.host.empty()) {
    char name[256] = {};
    gethostname(name, sizeof(name) - 1);
    config.host = name;
  }
  return config;
}

absl::StatusOr<CgroupLayout> ResolveLayout(const AgentFlags& flags) {
  if (!flags.cgroup_base.empty()) {
    return CgroupLayout::ForFakeTree(flags.cgroup_mode, flags.cgroup_base);
  }
  return ProbeCgroupLayout();
}

absl::StatusOr<rcbench::v1::UsageReport> TakeSnapshot(const AgentConfig& config,
                                                      const AgentFlags& flags) {
  RCBENCH_ASSIGN_OR_RETURN(CgroupLayout layout, ResolveLayout(flags));
  SamplerOptions so;
  so.layout = layout;
  so.root = config.root;
  so.io = config.io;
  so.psi = config.psi;
  so.use_inotify = false;
  so.proc_dir = flags.proc_dir;
  RCBENCH_ASSIGN_OR_RETURN(auto sampler, CgroupSampler::Create(so, RealClock::Get()));
  auto host = HostCounterReader::Create(flags.proc_dir);
  AgentOptions ao;
  ao.host = config.host;
  Agent agent(ao, std::move(sampler), host.ok() ? std::move(*host) : nullptr,
              config.sockets ? std::make_unique<SockDiagDumper>() : nullptr, RealClock::Get());
  return *agent.SampleOnce();
}

std::string FormatReportTable(const rcbench::v1::UsageReport& r) {
  std::string out;
  const auto& h = r.host();
  auto s = [](uint64_t ns) { return static_cast<double>(ns) * 1e-9; };
  absl::StrAppendFormat(&out,
                        "host: cpu user %.2fs system %.2fs softirq %.2fs idle %.2fs; load %.2f "
                        "%.2f %.2f; tcp time_wait %u\n",
                        s(h.cpu_user_ns()), s(h.cpu_system_ns()), s(h.cpu_softirq_ns()),
                        s(h.cpu_idle_ns()), h.loadavg_1m(), h.loadavg_5m(), h.loadavg_15m(),
                        h.tcp_time_wait());
  std::vector<std::string> tcp;
  for (const char* k : {"ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "SyncookiesSent",
                        "ActiveOpens", "PassiveOpens", "OutRsts"}) {
    auto it = h.tcp().find(k);
    if (it != h.tcp().end()) tcp.push_back(absl::StrCat(k, "=", it->second));
  }
  absl::StrAppend(&out, "tcp: ", absl::StrJoin(tcp, " "), "\n");
  absl::StrAppendFormat(&out, "%-32s %12s %12s %12s %12s %12s %6s %s\n", "CONTAINER", "CPU_S",
                        "USER_S", "SYSTEM_S", "THROTTLED_S", "MEM_BYTES", "TASKS", "TCP");
  for (const auto& c : r.containers()) {
    std::vector<std::string> socks;
    for (const auto& [state, n] : c.tcp_sockets()) socks.push_back(absl::StrCat(state, "=", n));
    std::sort(socks.begin(), socks.end());
    absl::StrAppendFormat(&out, "%-32s %12.3f %12.3f %12.3f %12.3f %12u %6u %s\n",
                          c.id().path().empty() ? "." : c.id().path(), s(c.cpu_usage_ns()),
                          s(c.cpu_user_ns()), s(c.cpu_system_ns()), s(c.cpu_throttled_ns()),
                          c.memory_usage_bytes(), c.pids_current(), absl::StrJoin(socks, ","));
  }
  absl::StrAppendFormat(&out, "%d containers, sampled in %.3f ms\n", r.containers_size(),
                        static_cast<double>(r.sample_duration_ns()) * 1e-6);
  return out;
}

std::string FormatReportJson(const rcbench::v1::UsageReport& report) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto status = google::protobuf::util::MessageToJsonString(report, &json, options);
  if (!status.ok()) return "{}";
  return json + "\n";
}

}  // namespace rcbench::agent
