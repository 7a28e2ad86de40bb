#include "agent/cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

absl::StatusOr<AgentFlags> ParseAgentFlags(int argc, char** argv) {
  AgentFlags f;
  int i = 1;
  if (argc > 1 && std::string(argv[1]) == "snapshot") {
    f.snapshot = true;
    i = 2;
  }
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (absl::StartsWith(arg, "--") && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_value = true;
    }
    auto need = [&](const char* what) -> absl::StatusOr<std::string> {
      if (has_value) return value;
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(arg, ": expected ", what));
      }
      return std::string(argv[++i]);
    };
    auto bad = [&](const absl::Status& s) {
      return absl::InvalidArgumentError(absl::StrCat(arg, ": ", s.message()));
    };
    if (arg == "--help" || arg == "-h") {
      f.help = true;
    } else if (arg == "--json" && f.snapshot) {
      f.json = true;
    } else if (arg == "--die-with-parent") {
      f.die_with_parent = true;
    } else if (arg == "--insecure-plaintext") {
      f.security.insecure_plaintext = true;
    } else if (IsSecurityValueFlag(arg)) {
      RCBENCH_ASSIGN_OR_RETURN(std::string v, need("a file name"));
      ApplySecurityFlag(arg, v, f.security);
    } else if (arg == "--listen" || arg == "--metrics-listen") {
      RCBENCH_ASSIGN_OR_RETURN(std::string v, need("host:port"));
      auto hp = ParseHostPort(v);
      if (!hp.ok()) return bad(hp.status());
      (arg == "--listen" ? f.listen : f.metrics_listen) = v;
    } else if (arg == "--config") {
      RCBENCH_ASSIGN_OR_RETURN(f.config_path, need("a file name"));
    } else if (arg == "--interval") {
      RCBENCH_ASSIGN_OR_RETURN(std::string v, need("a duration such as 1s or 100ms"));
      auto d = ParseDuration(v);
      if (!d.ok()) return bad(d.status());
      if (absl::Status s = ValidateInterval(*d); !s.ok()) return bad(s);
      f.interval = *d;
    } else if (arg == "--root") {
      RCBENCH_ASSIGN_OR_RETURN(std::string v, need("a subtree name such as rcbench, or /"));
      if (v != "/" && !ValidateContainerPath(v).ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--root: '", v, "' is not a subtree name (e.g. rcbench) or /"));
      }
      f.root = v;
    } else if (arg == "--ready-file") {
      RCBENCH_ASSIGN_OR_RETURN(f.ready_file, need("a file name"));
    } else if (arg == "--log-level") {
      RCBENCH_ASSIGN_OR_RETURN(std::string v, need("debug|info|warning|error"));
      auto l = ParseLogLevel(v);
      if (!l.ok()) return bad(l.status());
      f.log_level = *l;
    } else if (arg == "--cgroup-base") {
      RCBENCH_ASSIGN_OR_RETURN(f.cgroup_base, need("a directory"));
    } else if (arg == "--cgroup-mode") {
      RCBENCH_ASSIGN_OR_RETURN(std::string v, need("v1|v2|hybrid"));
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
    } else if (arg == "--proc-dir") {
      RCBENCH_ASSIGN_OR_RETURN(f.proc_dir, need("a directory"));
    } else if (arg == "--sysctl-dir") {
      RCBENCH_ASSIGN_OR_RETURN(f.sysctl_dir, need("a directory"));
    } else if (arg == "--state-dir") {
      RCBENCH_ASSIGN_OR_RETURN(f.state_dir, need("a directory"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown argument '", arg, "'", f.snapshot ? " for snapshot" : "", " (see --help)"));
    }
  }
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

absl::Status WriteReadyFile(const std::string& path, const std::vector<std::string>& lines) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  for (const std::string& line : lines) std::fprintf(f, "%s\n", line.c_str());
  if (std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace rcbench::agent
