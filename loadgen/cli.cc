#include "loadgen/cli.h"

#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "common/load_vocabulary.h"
#include "common/logging.h"
#include "common/rpc_security.h"
#include "common/status_macros.h"
#include "loadgen/allow_list.h"
#include "loadgen/http_worker.h"
#include "loadgen/load_run.h"
#include "loadgen/metrics.h"
#include "loadgen/service.h"
#include "loadgen/workload.h"
#include "prometheus/exposer.h"

namespace rcbench::loadgen {
namespace {

constexpr int64_t kCliMaxDurationNs = int64_t{24} * 3600 * 1'000'000'000;

const std::string& Usage() {
  static const std::string* kUsage = new std::string(
      R"(rcbench-loadgen: S-Client, open- and closed-loop HTTP load in classes; bounded SYN floods.

Usage:
  rcbench-loadgen http [-t THREADS] [-c CONNS] [-d DURATION] [--latency] [--rate R [--poisson]]
                       [-H 'Name: value']... [--timeout D] [--source ADDR]... [--linger-zero]
                       [--json] URL
  rcbench-loadgen sclient --clients N --sockets D [--connect-timeout 500ms] [-d DURATION]
                       [--keep-alive] [--timeout D] [--source ADDR]... [--linger-zero] [--json] URL
  rcbench-loadgen syn --target ADDR:PORT --spoof CIDR [--rate PPS] [-d DURATION] [--senders N]
                       [--interface IF] [--json]
  rcbench-loadgen classes --config FILE [-d DURATION] [--json]
  rcbench-loadgen serve --listen ADDR [--metrics-listen ADDR] [--max-duration 10m]
                       [--max-workloads 16] [--config FILE] [--ready-file F] --token-file F
                       [--tls-cert F --tls-key F --tls-ca F] [--insecure-plaintext]

serve's security flags (docs/SECURITY.md; TLS is required unless --listen is loopback):
)" + std::string(rcbench::kServerSecurityUsage) +
      R"(
Common flags:
  --allow-target CIDR   also allow targets in CIDR (repeatable; default: 127.0.0.0/8 and ::1)
  --max-sockets N       most concurrent sockets of all classes together (default 65536, at
                        most 4194304); also bounded by RLIMIT_NOFILE
  -t, --threads N       worker threads (default: one per core)
  --cpus LIST           pin workers/senders round-robin to these CPUs, e.g. 0,1
  --io ENGINE           HTTP socket engine: epoll (default) or io_uring (Linux 6.1+: batched
                        sends, multishot receives into a provided-buffer ring)
  --io-batch N          io_uring: sleep until N completions are ready (at most half the
                        worker's sockets) or --io-batch-wait passed (default 1: no batching)
  --io-batch-wait D     io_uring: longest extra wait for a batch (default 200us); it is part
                        of the latency of the responses that waited
  --json                print one JSON object instead of text
  --log-level L         debug|info|warning|error (default info)
  --die-with-parent     exit (SIGTERM) when the parent process dies
  --help                this text
)");
  return *kUsage;
}

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

absl::StatusOr<Args> ParseArgs(const std::string& sub, int argc, char** argv, int first) {
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
                                  uint32_t min = 1) {
  if (!args.Has(name)) return def;
  uint32_t v = 0;
  if (!absl::SimpleAtoi(args.Get(name), &v) || v < min) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": expected an integer >= ", min,
                                                   ", got \"", args.Get(name), "\""));
  }
  return v;
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

nlohmann::json Percentiles(const rcbench::v1::LatencyHistogram& proto) {
  auto h = LatencyHistogram::FromProto(proto);
  if (!h.ok()) return nullptr;
  const auto p = h->GetPercentiles();
  return {{"p50", p.p50_ns / 1000.0}, {"p90", p.p90_ns / 1000.0},
          {"p99", p.p99_ns / 1000.0}, {"p99_9", p.p999_ns / 1000.0},
          {"max", p.max_ns / 1000.0}, {"mean", h->mean_ns() / 1000.0},
          {"count", h->total_count()}};
}

nlohmann::json ErrorsJson(const rcbench::v1::ErrorCounts& e) {
  return {{"connect_timeout", e.connect_timeout()},
          {"connect_refused", e.connect_refused()},
          {"reset", e.reset()},
          {"response_timeout", e.response_timeout()},
          {"non_2xx", e.non_2xx()},
          {"parse_error", e.parse_error()},
          {"late_send", e.late_send()},
          {"local", e.local()}};
}

nlohmann::json ClassJson(const rcbench::v1::ClassStats& c, double duration_s) {
  nlohmann::json j;
  j["class"] = c.class_name();
  j["requests"] = c.requests_ok();
  j["requests_sent"] = c.requests_sent();
  j["rps"] = duration_s > 0 ? c.requests_ok() / duration_s : 0.0;
  j["bytes_received"] = c.bytes_received();
  j["connects_attempted"] = c.connects_attempted();
  j["connects_established"] = c.connects_established();
  j["latency_us"] = Percentiles(c.latency());
  if (c.latency_uncorrected().total_count() > 0) {
    j["latency_uncorrected_us"] = Percentiles(c.latency_uncorrected());
  }
  j["connect_latency_us"] = Percentiles(c.connect_latency());
  j["errors"] = ErrorsJson(c.errors());
  if (c.syn_packets_sent() > 0 || c.class_name() == LoadRun::kFloodClassName) {
    j["syn_packets_sent"] = c.syn_packets_sent();
    j["pps"] = duration_s > 0 ? c.syn_packets_sent() / duration_s : 0.0;
  }
  return j;
}

std::string FormatUs(double ns) {
  if (ns >= 1e9) return absl::StrFormat("%.2fs", ns / 1e9);
  if (ns >= 1e6) return absl::StrFormat("%.2fms", ns / 1e6);
  return absl::StrFormat("%.2fus", ns / 1e3);
}

void PrintText(const std::vector<rcbench::v1::ClassStats>& totals, double duration_s, double cpu_s,
               const std::string& end_reason, bool latency_distribution) {
  uint64_t all_ok = 0;
  for (const auto& c : totals) {
    auto counters = ClassCounters::FromProto(c);
    if (!counters.ok()) continue;
    std::printf("  class %s:\n", c.class_name().c_str());
    if (c.class_name() == LoadRun::kFloodClassName) {
      std::printf("    %llu SYN packets in %.2fs, %.0f pps, %llu send errors\n",
                  static_cast<unsigned long long>(c.syn_packets_sent()), duration_s,
                  duration_s > 0 ? c.syn_packets_sent() / duration_s : 0.0,
                  static_cast<unsigned long long>(c.errors().local()));
      continue;
    }
    all_ok += c.requests_ok();
    const auto p = counters->latency.GetPercentiles();
    std::printf("    Latency   p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
                FormatUs(p.p50_ns).c_str(), FormatUs(p.p90_ns).c_str(), FormatUs(p.p99_ns).c_str(),
                FormatUs(p.p999_ns).c_str(), FormatUs(p.max_ns).c_str());
    if (counters->latency_uncorrected.total_count() > 0) {
      const auto u = counters->latency_uncorrected.GetPercentiles();
      std::printf("    Uncorrected p50 %s  p90 %s  p99 %s  max %s\n", FormatUs(u.p50_ns).c_str(),
                  FormatUs(u.p90_ns).c_str(), FormatUs(u.p99_ns).c_str(),
                  FormatUs(u.max_ns).c_str());
    }
    if (latency_distribution) {
      std::printf("    Latency Distribution\n");
      for (double q : {50.0, 75.0, 90.0, 99.0, 99.9}) {
        std::printf("     %5.1f%%  %s\n", q,
                    FormatUs(static_cast<double>(counters->latency.ValueAtPercentile(q))).c_str());
      }
    }
    std::printf("    %llu requests in %.2fs, %.2fMB read; %llu connects (%llu established)\n",
                static_cast<unsigned long long>(c.requests_ok()), duration_s,
                c.bytes_received() / 1048576.0,
                static_cast<unsigned long long>(c.connects_attempted()),
                static_cast<unsigned long long>(c.connects_established()));
    if (counters->TotalErrors() > 0) {
      std::string errs;
      for (int k = 0; k < kNumErrorKinds; ++k) {
        if (counters->errors[k] > 0) {
          absl::StrAppend(&errs, " ", ErrorKindName(k), " ", counters->errors[k]);
        }
      }
      std::printf("    Errors:%s\n", errs.c_str());
    }
    std::printf("    Requests/sec: %.2f\n", duration_s > 0 ? c.requests_ok() / duration_s : 0.0);
  }
  std::printf("Requests/sec: %.2f\n", duration_s > 0 ? all_ok / duration_s : 0.0);
  std::printf("Generator CPU: %.2fs (%.2f us per request)\n", cpu_s,
              all_ok > 0 ? cpu_s * 1e6 / all_ok : 0.0);
  std::printf("Ended: %s\n", end_reason.c_str());
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// The run flags (-d, -t, --io, ...) applied to `workload`.
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

int Failure(const std::string& sub, const absl::Status& s, int code) {
  std::fprintf(stderr, "rcbench-loadgen %s: %s\n", sub.c_str(), std::string(s.message()).c_str());
  return code;
}

int RunOneShot(const std::string& sub, const Args& args, rcbench::v1::Workload workload,
               AllowList allow) {
  if (absl::Status s = ApplyRunFlags(args, workload); !s.ok()) return Failure(sub, s, 2);
  auto limits = LimitsFlags(args, kCliMaxDurationNs);
  if (!limits.ok()) return Failure(sub, limits.status(), 2);
  auto cpus = CpuList(args);
  if (!cpus.ok()) return Failure(sub, cpus.status(), 2);
  auto spec = ValidateWorkload(workload, allow, *limits);
  if (!spec.ok()) {
    return Failure(sub, spec.status(),
                   spec.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1);
  }
  if (spec->io_engine == IoEngine::kIoUring && !spec->classes.empty()) {
    const absl::Status io = IoUringSupport();  // before anything is sent
    if (!io.ok()) return Failure(sub, io, 1);
  }
  spec->cpus = *std::move(cpus);
  const bool json = args.Has("json");
  if (!json) {
    for (const auto& c : spec->classes) {
      std::printf("Running %s test @ %s (class %s)\n",
                  FormatDuration(std::chrono::nanoseconds(spec->duration_ns)).c_str(),
                  absl::StrCat("http://", c.host_header, c.paths[0].first).c_str(), c.name.c_str());
      std::printf("  %u threads and %llu connections (%s%s)\n", spec->threads,
                  static_cast<unsigned long long>(c.TotalSockets()), IoEngineName(spec->io_engine),
                  spec->io_batch > 1
                      ? absl::StrCat(", completions in batches of ", spec->io_batch).c_str()
                      : "");
    }
    if (spec->flood) {
      std::printf("SYN flood for %s @ %s:%u from %s, %u senders\n",
                  FormatDuration(std::chrono::nanoseconds(spec->duration_ns)).c_str(),
                  spec->flood->target_ip.ToString().c_str(), spec->flood->target_port,
                  spec->flood->spoof.ToString().c_str(), spec->flood->senders);
    }
    std::fflush(stdout);
  }
  const RunSpec run_spec = *spec;  // for the JSON result; the run takes the spec
  auto run = LoadRun::Start(*std::move(spec), "cli", RealClock::Get());
  if (!run.ok()) {
    std::fprintf(stderr, "rcbench-loadgen %s: %s\n", sub.c_str(),
                 std::string(run.status().message()).c_str());
    return 1;
  }
  LoadRun* r = run->get();
  std::thread signals([r] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    const timespec poll{0, 100'000'000};
    while (!r->done()) {
      if (sigtimedwait(&set, nullptr, &poll) > 0) r->Stop("interrupted");
    }
  });
  r->Wait();
  signals.join();
  const auto totals = r->Totals();
  const double duration = r->ElapsedSeconds();
  const double cpu = r->CpuNanos() / 1e9;
  if (json) {
    std::printf("%s\n",
                FormatJsonResult(totals, duration, cpu, r->end_reason(), &run_spec).c_str());
  } else {
    PrintText(totals, duration, cpu, r->end_reason(), args.Has("latency"));
  }
  return 0;
}

absl::Status WriteReadyFile(const std::string& path, const std::vector<std::string>& lines) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    for (const auto& l : lines) out << l << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

std::string JoinHostPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

// serve's flags, checked before anything listens.
struct ServeFlags {
  HostPort listen;
  std::optional<HostPort> metrics_listen;
  LoadGenService::Limits limits;
  ServerSecurity security;
};

absl::StatusOr<ServeFlags> ParseServeFlags(const Args& args, AllowList& allow) {
  ServeFlags f;
  if (!args.Has("listen")) {
    return absl::InvalidArgumentError("`serve` needs --listen ADDR (port 0: ephemeral)");
  }
  auto listen = ParseHostPort(args.Get("listen"));
  if (!listen.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: ", listen.status().message()));
  }
  f.listen = *listen;
  if (args.Has("metrics-listen")) {
    auto m = ParseHostPort(args.Get("metrics-listen"));
    if (!m.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--metrics-listen: ", m.status().message()));
    }
    f.metrics_listen = *m;
  }
  RCBENCH_ASSIGN_OR_RETURN(const int64_t max_duration, DurationFlag(args, "max-duration", "10m"));
  if (args.Has("config")) {
    auto w = LoadWorkloadConfig(args.Get("config"), &allow);
    if (!w.ok())
      return absl::InvalidArgumentError(absl::StrCat("--config: ", w.status().message()));
  }
  for (absl::string_view flag : kSecurityValueFlags) {
    const std::string name(absl::StripPrefix(flag, "--"));  // Args keys have no dashes
    if (args.Has(name)) ApplySecurityFlag(flag, args.Get(name), f.security);
  }
  f.security.insecure_plaintext = args.Has("insecure-plaintext");
  RCBENCH_ASSIGN_OR_RETURN(f.limits.workload, LimitsFlags(args, max_duration));
  RCBENCH_ASSIGN_OR_RETURN(
      f.limits.max_stored_workloads,
      UintFlag(args, "max-workloads", LoadGenService::kDefaultMaxStoredWorkloads));
  if (f.limits.max_stored_workloads > 1024) {
    return absl::InvalidArgumentError("--max-workloads: at most 1024");
  }
  return f;
}

int Serve(const Args& args, AllowList allow) {
  auto flags = ParseServeFlags(args, allow);
  if (!flags.ok()) return Failure("serve", flags.status(), 2);
  const HostPort& listen = flags->listen;
  const std::optional<HostPort>& metrics_listen = flags->metrics_listen;
  const ServerSecurity& security = flags->security;
  if (absl::Status s = CheckListenSecurity("rcbench-loadgen", listen, security); !s.ok()) {
    return Failure("serve", s, 2);
  }
  auto auth = Authorizer::Load("rcbench-loadgen", security);
  if (!auth.ok()) return Failure("serve", auth.status(), 2);
  auto metrics = std::make_shared<LoadgenMetrics>();
  LoadGenService service(allow, flags->limits, RealClock::Get(), metrics.get(), *auth);
  RpcServerOptions rpc;
  rpc.component = "rcbench-loadgen";
  rpc.listen = JoinHostPort(listen.host, listen.port);
  rpc.security = security;
  rpc.audited_methods = LoadGenService::MutatingMethods();
  auto built = BuildRpcServer(rpc, {&service});
  if (!built.ok()) {
    std::fprintf(stderr, "rcbench-loadgen serve: %s\n",
                 std::string(built.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<grpc::Server> server = std::move(built->server);
  const int port = built->port;
  std::vector<std::string> ready = {absl::StrCat("pid=", getpid()),
                                    absl::StrCat("grpc=", JoinHostPort(listen.host, port))};
  std::unique_ptr<prometheus::Exposer> exposer;
  if (metrics_listen) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(
          JoinHostPort(metrics_listen->host, metrics_listen->port));
      exposer->RegisterCollectable(metrics);
      const auto ports = exposer->GetListeningPorts();
      ready.push_back(absl::StrCat("metrics=", JoinHostPort(metrics_listen->host, ports.at(0))));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rcbench-loadgen serve: --metrics-listen %s: %s\n",
                   args.Get("metrics-listen").c_str(), e.what());
      server->Shutdown();
      return 1;
    }
  }
  for (const auto& l : ready) RCBENCH_LOG(INFO) << "listening: " << l;
  RCBENCH_LOG(INFO) << "allow-list: " << allow.ToString();
  if (args.Has("ready-file")) {
    absl::Status s = WriteReadyFile(args.Get("ready-file"), ready);
    if (!s.ok()) {
      std::fprintf(stderr, "rcbench-loadgen serve: --ready-file: %s\n",
                   std::string(s.message()).c_str());
      server->Shutdown();
      return 1;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  RCBENCH_LOG(INFO) << "signal " << sig << ": shutting down";
  service.Shutdown();
  // In-flight calls (a StreamStats) get 200 ms to finish, then are cancelled.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  return 0;
}

// The workload of a one-shot subcommand (http, sclient, syn, classes) from its flags.
absl::StatusOr<rcbench::v1::Workload> BuildWorkload(const std::string& sub, const Args& args,
                                                    AllowList& allow) {
  if (sub == "http") return HttpWorkload(args);
  if (sub == "sclient") return SClientWorkload(args);
  if (sub == "syn") return SynWorkload(args);
  if (!args.Has("config")) return absl::InvalidArgumentError("`classes` needs --config FILE");
  return LoadWorkloadConfig(args.Get("config"), &allow);
}

}  // namespace

std::string FormatJsonResult(const std::vector<rcbench::v1::ClassStats>& totals, double duration_s,
                             double cpu_s, const std::string& end_reason, const RunSpec* spec) {
  nlohmann::json j;
  uint64_t ok = 0;
  ClassCounters all;
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& c : totals) {
    classes.push_back(ClassJson(c, duration_s));
    auto counters = ClassCounters::FromProto(c);
    if (counters.ok()) all.Merge(*counters);
    ok += c.requests_ok();
  }
  rcbench::v1::ClassStats merged;
  merged.set_class_name(totals.size() == 1 ? totals[0].class_name() : "all");
  all.ToProto(&merged);
  j = ClassJson(merged, duration_s);
  j["duration_s"] = duration_s;
  j["cpu_seconds"] = cpu_s;
  j["cpu_us_per_request"] = ok > 0 ? cpu_s * 1e6 / ok : 0.0;
  j["end_reason"] = end_reason;
  if (spec != nullptr && !spec->classes.empty()) {
    j["io_engine"] = IoEngineName(spec->io_engine);
    j["io_batch"] = spec->io_batch;
  }
  if (totals.size() > 1) j["classes"] = classes;
  return j.dump();
}

int RunCli(int argc, char** argv) {
  BlockStopSignals();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    std::printf("%s", Usage().c_str());
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  if (!SubcommandFlags().count(sub)) {
    std::fprintf(stderr,
                 "rcbench-loadgen: unknown subcommand \"%s\" (expected http, sclient, "
                 "syn, classes or serve; see --help)\n",
                 sub.c_str());
    return 2;
  }
  auto args = ParseArgs(sub, argc, argv, 2);
  if (!args.ok()) return Failure(sub, args.status(), 2);
  if (args->Has("help")) {
    std::printf("%s", Usage().c_str());
    return 0;
  }
  if (args->Has("log-level")) {
    auto level = ParseLogLevel(args->Get("log-level"));
    if (!level.ok()) {
      return Failure(
          sub, absl::InvalidArgumentError(absl::StrCat("--log-level: ", level.status().message())),
          2);
    }
    SetLogLevel(*level);
  }
  if (args->Has("die-with-parent")) prctl(PR_SET_PDEATHSIG, SIGTERM);
  auto allow = BuildAllowList(*args);
  if (!allow.ok()) return Failure(sub, allow.status(), 2);
  if (sub == "serve") return Serve(*args, *std::move(allow));
  auto workload = BuildWorkload(sub, *args, *allow);
  if (!workload.ok()) return Failure(sub, workload.status(), 2);
  return RunOneShot(sub, *args, *std::move(workload), *std::move(allow));
}

}  // namespace rcbench::loadgen
