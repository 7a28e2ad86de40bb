#include "loadgen/cli_flags.h"

#include <sched.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/load_vocabulary.h"
#include "common/status_macros.h"
#include "loadgen/http_worker.h"

namespace rcbench::loadgen {
namespace {

using Args = ParsedFlags;

// Flags every subcommand accepts.
constexpr FlagSpec kCommonFlags[] = {
    {"allow-target", '\0', true, true, "CIDR"},
    {"threads", 't', true, false, "N"},
    {"cpus", '\0', true, false, "LIST"},
    {"io", '\0', true, false, "epoll or io_uring"},
    {"io-batch", '\0', true, false, "N"},
    {"io-batch-wait", '\0', true, false, "a duration"},
    {"json", '\0', false},
    {"log-level", '\0', true, false, "debug|info|warning|error"},
    {"help", 'h', false},
    {"die-with-parent", '\0', false},
    {"max-sockets", '\0', true, false, "N"},
};

// Each subcommand's own flags; wrk's short forms -c, -d, -H, -R where wrk has them.
const std::map<std::string, std::vector<FlagSpec>>& SubcommandFlags() {
  static const auto* kFlags = new std::map<std::string, std::vector<FlagSpec>>{
      {"http",
       {{"connections", 'c', true, false, "N"},
        {"duration", 'd', true, false, "a duration"},
        {"latency", '\0', false},
        {"rate", 'R', true, false, "a rate"},
        {"poisson", '\0', false},
        {"header", 'H', true, true, "'Name: value'"},
        {"timeout", '\0', true, false, "a duration"},
        {"source", '\0', true, true, "ADDR"},
        {"linger-zero", '\0', false}}},
      {"sclient",
       {{"clients", '\0', true, false, "N"},
        {"sockets", '\0', true, false, "N"},
        {"connect-timeout", '\0', true, false, "a duration"},
        {"duration", 'd', true, false, "a duration"},
        {"keep-alive", '\0', false},
        {"timeout", '\0', true, false, "a duration"},
        {"source", '\0', true, true, "ADDR"},
        {"linger-zero", '\0', false},
        {"latency", '\0', false}}},
      {"syn",
       {{"target", '\0', true, false, "ADDR:PORT"},
        {"spoof", '\0', true, false, "CIDR"},
        {"rate", 'R', true, false, "a rate"},
        {"duration", 'd', true, false, "a duration"},
        {"senders", '\0', true, false, "N"},
        {"interface", '\0', true, false, "IF"}}},
      {"classes",
       {{"config", '\0', true, false, "FILE"},
        {"duration", 'd', true, false, "a duration"},
        {"latency", '\0', false}}},
      {"serve",
       {{"listen", '\0', true, false, "ADDR"},
        {"metrics-listen", '\0', true, false, "ADDR"},
        {"max-duration", '\0', true, false, "a duration"},
        {"max-workloads", '\0', true, false, "N"},
        {"config", '\0', true, false, "FILE"},
        {"ready-file", '\0', true, false, "FILE"},
        {"tls-cert", '\0', true, false, "FILE"},
        {"tls-key", '\0', true, false, "FILE"},
        {"tls-ca", '\0', true, false, "FILE"},
        {"token-file", '\0', true, false, "FILE"},
        {"read-token-file", '\0', true, false, "FILE"},
        {"insecure-plaintext", '\0', false}}},
  };
  return *kFlags;
}

absl::StatusOr<double> RateFlag(const Args& args, const std::string& name) {
  double v = 0;
  const std::string text = args.Get(name);
  std::string digits = text;
  double scale = 1;
  if (!digits.empty() && (digits.back() == 'k' || digits.back() == 'K')) {
    scale = 1e3;
    digits.pop_back();
  } else if (!digits.empty() && (digits.back() == 'm' || digits.back() == 'M')) {
    scale = 1e6;
    digits.pop_back();
  }
  if (!absl::SimpleAtod(digits, &v) || v < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": expected a rate (e.g. 1000, 50k), got \"", text, "\""));
  }
  return v * scale;
}

}  // namespace

absl::StatusOr<WorkloadLimits> LimitsFlags(const Args& args, int64_t max_duration_ns) {
  WorkloadLimits limits;
  limits.max_duration_ns = max_duration_ns;
  RCBENCH_ASSIGN_OR_RETURN(limits.max_sockets, UintFlag(args, "max-sockets", kDefaultMaxSockets));
  if (limits.max_sockets > kMaxMaxSockets) {
    return absl::InvalidArgumentError(absl::StrCat("--max-sockets: ", limits.max_sockets,
                                                   " exceeds the maximum of ", kMaxMaxSockets));
  }
  return limits;
}

namespace {

void SetDuration(int64_t ns, google::protobuf::Duration* d) {
  d->set_seconds(ns / 1'000'000'000);
  d->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

absl::StatusOr<std::string> SingleUrl(const Args& args, const std::string& sub) {
  std::vector<std::string> urls = args.positional();
  urls.insert(urls.end(), args.rest().begin(), args.rest().end());
  if (urls.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", sub, "` needs exactly one URL (http://HOST:PORT/path)"));
  }
  return urls[0];
}

// Fills target/paths of `c` from a URL with a path.
absl::Status SetTarget(const std::string& url, rcbench::v1::HttpClass* c) {
  RCBENCH_ASSIGN_OR_RETURN(HttpUrl parsed, ParseHttpUrl(url));
  c->set_target(absl::StrCat("http://", parsed.host_header));
  auto* p = c->add_paths();
  p->set_path(parsed.path);
  p->set_weight(1);
  return absl::OkStatus();
}

absl::Status CommonHttp(const Args& args, rcbench::v1::HttpClass* c) {
  for (const auto& s : args.All("source")) c->add_source_addresses(s);
  if (args.Has("linger-zero")) c->set_linger_zero(true);
  if (args.Has("timeout")) {
    RCBENCH_ASSIGN_OR_RETURN(int64_t ns, DurationFlag(args, "timeout", "5s"));
    SetDuration(ns, c->mutable_response_timeout());
  }
  return absl::OkStatus();
}

absl::StatusOr<rcbench::v1::Workload> HttpWorkload(const Args& args) {
  rcbench::v1::Workload w;
  auto* c = w.add_http_classes();
  c->set_name("default");
  RCBENCH_ASSIGN_OR_RETURN(std::string url, SingleUrl(args, "http"));
  RCBENCH_RETURN_IF_ERROR(SetTarget(url, c));
  RCBENCH_RETURN_IF_ERROR(CommonHttp(args, c));
  c->set_keep_alive(true);
  for (const auto& h : args.All("header")) {
    std::string lower = absl::AsciiStrToLower(h);
    lower.erase(std::remove(lower.begin(), lower.end(), ' '), lower.end());
    if (lower == "connection:close") {
      c->set_keep_alive(false);  // as wrk users ask for connection-per-request
      continue;
    }
    c->add_headers(h);
  }
  RCBENCH_ASSIGN_OR_RETURN(const uint32_t conns, UintFlag(args, "connections", 10));
  if (args.Has("rate")) {
    auto* m = c->mutable_open_loop();
    RCBENCH_ASSIGN_OR_RETURN(const double rate, RateFlag(args, "rate"));
    m->set_rate_rps(rate);
    m->set_arrival(args.Has("poisson") ? rcbench::v1::OpenLoopMode::ARRIVAL_POISSON
                                       : rcbench::v1::OpenLoopMode::ARRIVAL_CONSTANT);
    m->set_max_connections(conns);
  } else {
    c->mutable_closed_loop()->set_connections(conns);
  }
  return w;
}

absl::StatusOr<rcbench::v1::Workload> SClientWorkload(const Args& args) {
  rcbench::v1::Workload w;
  auto* c = w.add_http_classes();
  c->set_name("sclient");
  RCBENCH_ASSIGN_OR_RETURN(std::string url, SingleUrl(args, "sclient"));
  RCBENCH_RETURN_IF_ERROR(SetTarget(url, c));
  RCBENCH_RETURN_IF_ERROR(CommonHttp(args, c));
  c->set_keep_alive(args.Has("keep-alive"));
  auto* m = c->mutable_sclient();
  if (!args.Has("clients") || !args.Has("sockets")) {
    return absl::InvalidArgumentError("`sclient` needs --clients N and --sockets D");
  }
  RCBENCH_ASSIGN_OR_RETURN(const uint32_t clients, UintFlag(args, "clients", 1));
  RCBENCH_ASSIGN_OR_RETURN(const uint32_t sockets, UintFlag(args, "sockets", 1));
  RCBENCH_ASSIGN_OR_RETURN(const int64_t connect_timeout,
                           DurationFlag(args, "connect-timeout", "500ms"));
  m->set_clients(clients);
  m->set_sockets_per_client(sockets);
  SetDuration(connect_timeout, m->mutable_connect_timeout());
  return w;
}

absl::StatusOr<rcbench::v1::Workload> SynWorkload(const Args& args) {
  rcbench::v1::Workload w;
  if (!args.Has("target") || !args.Has("spoof")) {
    return absl::InvalidArgumentError("`syn` needs --target ADDR:PORT and --spoof CIDR");
  }
  if (!args.positional().empty() || !args.rest().empty()) {
    return absl::InvalidArgumentError("`syn` takes no positional arguments");
  }
  auto* f = w.mutable_syn_flood();
  f->set_target(args.Get("target"));
  f->set_spoof_cidr(args.Get("spoof"));
  if (args.Has("rate")) {
    RCBENCH_ASSIGN_OR_RETURN(const double rate, RateFlag(args, "rate"));
    f->set_rate_pps(rate);
  }
  RCBENCH_ASSIGN_OR_RETURN(const uint32_t senders, UintFlag(args, "senders", 0, 0));
  f->set_senders(senders);
  f->set_interface(args.Get("interface"));
  return w;
}

}  // namespace

absl::StatusOr<std::vector<int>> CpuList(const Args& args) {
  std::vector<int> cpus;
  if (!args.Has("cpus")) return cpus;
  for (absl::string_view part : absl::StrSplit(args.Get("cpus"), ',', absl::SkipEmpty())) {
    int cpu = -1;
    if (!absl::SimpleAtoi(part, &cpu) || cpu < 0 || cpu >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(absl::StrCat("--cpus: \"", part, "\" is not a CPU number"));
    }
    cpus.push_back(cpu);
  }
  return cpus;
}

absl::StatusOr<AllowList> BuildAllowList(const Args& args) {
  AllowList allow;
  for (const auto& p : args.All("allow-target")) {
    absl::Status s = allow.Add(p);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--", s.message()));
  }
  return allow;
}

bool IsSubcommand(const std::string& sub) { return SubcommandFlags().count(sub) > 0; }

absl::StatusOr<Args> ParseSubcommandArgs(const std::string& sub, int argc, char** argv, int first) {
  std::vector<FlagSpec> table(std::begin(kCommonFlags), std::end(kCommonFlags));
  const auto& own = SubcommandFlags().at(sub);
  table.insert(table.end(), own.begin(), own.end());
  return ParseFlags(argc, argv, first, table);
}

absl::StatusOr<int64_t> DurationFlag(const Args& args, const std::string& name,
                                     const std::string& def) {
  const std::string text = args.Get(name, def);
  auto d = ParseDuration(text);
  if (!d.ok())
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", d.status().message()));
  if (d->count() <= 0)
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": must be positive"));
  return d->count();
}

absl::StatusOr<uint32_t> UintFlag(const Args& args, const std::string& name, uint32_t def,
                                  uint32_t min) {
  if (!args.Has(name)) return def;
  uint32_t v = 0;
  if (!absl::SimpleAtoi(args.Get(name), &v) || v < min) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": expected an integer >= ", min,
                                                   ", got \"", args.Get(name), "\""));
  }
  return v;
}

absl::StatusOr<rcbench::v1::Workload> BuildWorkload(const std::string& sub, const Args& args,
                                                    AllowList& allow) {
  if (sub == "http") return HttpWorkload(args);
  if (sub == "sclient") return SClientWorkload(args);
  if (sub == "syn") return SynWorkload(args);
  if (!args.Has("config")) return absl::InvalidArgumentError("`classes` needs --config FILE");
  return LoadWorkloadConfig(args.Get("config"), &allow);
}

absl::Status ApplyRunFlags(const Args& args, rcbench::v1::Workload& workload) {
  if (!workload.has_duration() || args.Has("duration")) {
    RCBENCH_ASSIGN_OR_RETURN(const int64_t ns, DurationFlag(args, "duration", "10s"));
    SetDuration(ns, workload.mutable_duration());
  }
  if (args.Has("threads")) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t threads, UintFlag(args, "threads", 1));
    workload.set_threads(threads);
  }
  if (args.Has("io")) {
    const std::optional<IoEngine> io = ParseIoEngine(args.Get("io"));
    if (!io) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--io: \"", args.Get("io"), "\" is not an I/O engine (", kIoEngineNames, ")"));
    }
    workload.set_io_engine(ToProto(*io));
  }
  if (args.Has("io-batch")) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t batch, UintFlag(args, "io-batch", 1));
    workload.set_io_batch(batch);
  }
  if (args.Has("io-batch-wait")) {
    RCBENCH_ASSIGN_OR_RETURN(const int64_t ns, DurationFlag(args, "io-batch-wait", "200us"));
    SetDuration(ns, workload.mutable_io_batch_wait());
  }
  return absl::OkStatus();
}

}  // namespace rcbench::loadgen
