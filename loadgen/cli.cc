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
#include "common/logging.h"
#include "common/rpc_security.h"
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

// A parsed command line: flags by canonical name (repeatable) and positional arguments.
struct Args {
  std::multimap<std::string, std::string> flags;
  std::vector<std::string> positional;

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& def = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? def : it->second;
  }
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    auto [b, e] = flags.equal_range(name);
    for (auto it = b; it != e; ++it) out.push_back(it->second);
    return out;
  }
};

struct UsageError {
  std::string message;
};

// Flags every subcommand accepts: name -> takes a value.
const std::map<std::string, bool>& CommonFlags() {
  static const std::map<std::string, bool> kFlags = {
      {"allow-target", true}, {"threads", true},          {"cpus", true},       {"io", true},
      {"io-batch", true},     {"io-batch-wait", true},    {"json", false},      {"log-level", true},
      {"help", false},        {"die-with-parent", false}, {"max-sockets", true}};
  return kFlags;
}

const std::map<std::string, std::map<std::string, bool>>& SubcommandFlags() {
  static const std::map<std::string, std::map<std::string, bool>> kFlags = {
      {"http",
       {{"connections", true},
        {"duration", true},
        {"latency", false},
        {"rate", true},
        {"poisson", false},
        {"header", true},
        {"timeout", true},
        {"source", true},
        {"linger-zero", false}}},
      {"sclient",
       {{"clients", true},
        {"sockets", true},
        {"connect-timeout", true},
        {"duration", true},
        {"keep-alive", false},
        {"timeout", true},
        {"source", true},
        {"linger-zero", false},
        {"latency", false}}},
      {"syn",
       {{"target", true},
        {"spoof", true},
        {"rate", true},
        {"duration", true},
        {"senders", true},
        {"interface", true}}},
      {"classes", {{"config", true}, {"duration", true}, {"latency", false}}},
      {"serve",
       {{"listen", true},
        {"metrics-listen", true},
        {"max-duration", true},
        {"max-workloads", true},
        {"config", true},
        {"ready-file", true},
        {"tls-cert", true},
        {"tls-key", true},
        {"tls-ca", true},
        {"token-file", true},
        {"read-token-file", true},
        {"insecure-plaintext", false}}},
  };
  return kFlags;
}

std::string Canonical(const std::string& f) {
  static const std::map<std::string, std::string> kShort = {
      {"t", "threads"}, {"c", "connections"}, {"d", "duration"}, {"H", "header"}, {"R", "rate"}};
  auto it = kShort.find(f);
  return it == kShort.end() ? f : it->second;
}

Args ParseArgs(const std::string& sub, int argc, char** argv, int first) {
  const auto& own = SubcommandFlags().at(sub);
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) args.positional.push_back(argv[i]);
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      args.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (a[1] != '-' && name.size() > 1 && name.find('=') == std::string::npos) {
      // wrk style: -t1, -c50, -d10s.
      value = name.substr(1);
      name = name.substr(0, 1);
    }
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    name = Canonical(name);
    bool takes_value;
    if (auto it = own.find(name); it != own.end()) {
      takes_value = it->second;
    } else if (auto c = CommonFlags().find(name); c != CommonFlags().end()) {
      takes_value = c->second;
    } else {
      throw UsageError{absl::StrCat("unknown flag ", a, " for `", sub, "` (see --help)")};
    }
    if (takes_value && !value) {
      if (i + 1 >= argc) throw UsageError{absl::StrCat("flag ", a, " needs a value")};
      value = argv[++i];
    }
    if (!takes_value && value) throw UsageError{absl::StrCat("flag --", name, " takes no value")};
    args.flags.emplace(name, value.value_or("true"));
  }
  return args;
}

int64_t DurationFlag(const Args& args, const std::string& name, const std::string& def) {
  const std::string text = args.Get(name, def);
  auto d = ParseDuration(text);
  if (!d.ok()) throw UsageError{absl::StrCat("--", name, ": ", d.status().message())};
  if (d->count() <= 0) throw UsageError{absl::StrCat("--", name, ": must be positive")};
  return d->count();
}

uint32_t UintFlag(const Args& args, const std::string& name, uint32_t def, uint32_t min = 1) {
  if (!args.Has(name)) return def;
  uint32_t v = 0;
  if (!absl::SimpleAtoi(args.Get(name), &v) || v < min) {
    throw UsageError{absl::StrCat("--", name, ": expected an integer >= ", min, ", got \"",
                                  args.Get(name), "\"")};
  }
  return v;
}

double RateFlag(const Args& args, const std::string& name) {
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
    throw UsageError{
        absl::StrCat("--", name, ": expected a rate (e.g. 1000, 50k), got \"", text, "\"")};
  }
  return v * scale;
}

WorkloadLimits LimitsFlags(const Args& args, int64_t max_duration_ns) {
  WorkloadLimits limits;
  limits.max_duration_ns = max_duration_ns;
  limits.max_sockets = UintFlag(args, "max-sockets", kDefaultMaxSockets);
  if (limits.max_sockets > kMaxMaxSockets) {
    throw UsageError{absl::StrCat("--max-sockets: ", limits.max_sockets, " exceeds the maximum of ",
                                  kMaxMaxSockets)};
  }
  return limits;
}

void SetDuration(int64_t ns, google::protobuf::Duration* d) {
  d->set_seconds(ns / 1'000'000'000);
  d->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

std::string SingleUrl(const Args& args, const std::string& sub) {
  if (args.positional.size() != 1) {
    throw UsageError{absl::StrCat("`", sub, "` needs exactly one URL (http://HOST:PORT/path)")};
  }
  return args.positional[0];
}

// Fills target/paths of `c` from a URL with a path.
void SetTarget(const std::string& url, rcbench::v1::HttpClass* c) {
  auto parsed = ParseHttpUrl(url);
  if (!parsed.ok()) throw UsageError{std::string(parsed.status().message())};
  c->set_target(absl::StrCat("http://", parsed->host_header));
  auto* p = c->add_paths();
  p->set_path(parsed->path);
  p->set_weight(1);
}

void CommonHttp(const Args& args, rcbench::v1::HttpClass* c) {
  for (const auto& s : args.All("source")) c->add_source_addresses(s);
  if (args.Has("linger-zero")) c->set_linger_zero(true);
  if (args.Has("timeout"))
    SetDuration(DurationFlag(args, "timeout", "5s"), c->mutable_response_timeout());
}

rcbench::v1::Workload HttpWorkload(const Args& args) {
  rcbench::v1::Workload w;
  auto* c = w.add_http_classes();
  c->set_name("default");
  SetTarget(SingleUrl(args, "http"), c);
  CommonHttp(args, c);
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
  const uint32_t conns = UintFlag(args, "connections", 10);
  if (args.Has("rate")) {
    auto* m = c->mutable_open_loop();
    m->set_rate_rps(RateFlag(args, "rate"));
    m->set_arrival(args.Has("poisson") ? rcbench::v1::OpenLoopMode::ARRIVAL_POISSON
                                       : rcbench::v1::OpenLoopMode::ARRIVAL_CONSTANT);
    m->set_max_connections(conns);
  } else {
    c->mutable_closed_loop()->set_connections(conns);
  }
  return w;
}

rcbench::v1::Workload SClientWorkload(const Args& args) {
  rcbench::v1::Workload w;
  auto* c = w.add_http_classes();
  c->set_name("sclient");
  SetTarget(SingleUrl(args, "sclient"), c);
  CommonHttp(args, c);
  c->set_keep_alive(args.Has("keep-alive"));
  auto* m = c->mutable_sclient();
  if (!args.Has("clients") || !args.Has("sockets")) {
    throw UsageError{"`sclient` needs --clients N and --sockets D"};
  }
  m->set_clients(UintFlag(args, "clients", 1));
  m->set_sockets_per_client(UintFlag(args, "sockets", 1));
  SetDuration(DurationFlag(args, "connect-timeout", "500ms"), m->mutable_connect_timeout());
  return w;
}

rcbench::v1::Workload SynWorkload(const Args& args) {
  rcbench::v1::Workload w;
  if (!args.Has("target") || !args.Has("spoof")) {
    throw UsageError{"`syn` needs --target ADDR:PORT and --spoof CIDR"};
  }
  if (!args.positional.empty()) throw UsageError{"`syn` takes no positional arguments"};
  auto* f = w.mutable_syn_flood();
  f->set_target(args.Get("target"));
  f->set_spoof_cidr(args.Get("spoof"));
  if (args.Has("rate")) f->set_rate_pps(RateFlag(args, "rate"));
  f->set_senders(UintFlag(args, "senders", 0, 0));
  f->set_interface(args.Get("interface"));
  return w;
}

std::vector<int> CpuList(const Args& args) {
  std::vector<int> cpus;
  if (!args.Has("cpus")) return cpus;
  for (absl::string_view part : absl::StrSplit(args.Get("cpus"), ',', absl::SkipEmpty())) {
    int cpu = -1;
    if (!absl::SimpleAtoi(part, &cpu) || cpu < 0 || cpu >= CPU_SETSIZE) {
      throw UsageError{absl::StrCat("--cpus: \"", part, "\" is not a CPU number")};
    }
    cpus.push_back(cpu);
  }
  return cpus;
}

AllowList BuildAllowList(const Args& args) {
  AllowList allow;
  for (const auto& p : args.All("allow-target")) {
    absl::Status s = allow.Add(p);
    if (!s.ok()) throw UsageError{absl::StrCat("--", s.message())};
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

int RunOneShot(const std::string& sub, const Args& args, rcbench::v1::Workload workload,
               AllowList allow) {
  if (!workload.has_duration()) {
    SetDuration(DurationFlag(args, "duration", "10s"), workload.mutable_duration());
  } else if (args.Has("duration")) {
    SetDuration(DurationFlag(args, "duration", "10s"), workload.mutable_duration());
  }
  if (args.Has("threads")) workload.set_threads(UintFlag(args, "threads", 1));
  if (args.Has("io")) {
    const std::optional<IoEngine> io = ParseIoEngine(args.Get("io"));
    if (!io) {
      throw UsageError{
          absl::StrCat("--io: \"", args.Get("io"), "\" is not an I/O engine (epoll or io_uring)")};
    }
    workload.set_io_engine(ToProto(*io));
  }
  if (args.Has("io-batch")) workload.set_io_batch(UintFlag(args, "io-batch", 1));
  if (args.Has("io-batch-wait")) {
    SetDuration(DurationFlag(args, "io-batch-wait", "200us"), workload.mutable_io_batch_wait());
  }
  auto spec = ValidateWorkload(workload, allow, LimitsFlags(args, kCliMaxDurationNs));
  if (!spec.ok()) {
    std::fprintf(stderr, "rcbench-loadgen %s: %s\n", sub.c_str(),
                 std::string(spec.status().message()).c_str());
    return spec.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (spec->io_engine == IoEngine::kIoUring && !spec->classes.empty()) {
    const absl::Status io = IoUringSupport();  // before anything is sent
    if (!io.ok()) {
      std::fprintf(stderr, "rcbench-loadgen %s: %s\n", sub.c_str(),
                   std::string(io.message()).c_str());
      return 1;
    }
  }
  spec->cpus = CpuList(args);
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

int Serve(const Args& args, AllowList allow) {
  if (!args.Has("listen")) throw UsageError{"`serve` needs --listen ADDR (port 0: ephemeral)"};
  auto listen = ParseHostPort(args.Get("listen"));
  if (!listen.ok()) throw UsageError{absl::StrCat("--listen: ", listen.status().message())};
  std::optional<HostPort> metrics_listen;
  if (args.Has("metrics-listen")) {
    auto m = ParseHostPort(args.Get("metrics-listen"));
    if (!m.ok()) throw UsageError{absl::StrCat("--metrics-listen: ", m.status().message())};
    metrics_listen = *m;
  }
  const int64_t max_duration = DurationFlag(args, "max-duration", "10m");
  if (args.Has("config")) {
    auto w = LoadWorkloadConfig(args.Get("config"), &allow);
    if (!w.ok()) throw UsageError{absl::StrCat("--config: ", w.status().message())};
  }
  ServerSecurity security;
  for (absl::string_view flag : kSecurityValueFlags) {
    const std::string name(absl::StripPrefix(flag, "--"));  // Args keys have no dashes
    if (args.Has(name)) ApplySecurityFlag(flag, args.Get(name), security);
  }
  security.insecure_plaintext = args.Has("insecure-plaintext");
  if (absl::Status s = CheckListenSecurity("rcbench-loadgen", *listen, security); !s.ok()) {
    std::fprintf(stderr, "rcbench-loadgen serve: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto auth = Authorizer::Load("rcbench-loadgen", security);
  if (!auth.ok()) {
    std::fprintf(stderr, "rcbench-loadgen serve: %s\n",
                 std::string(auth.status().message()).c_str());
    return 2;
  }
  auto metrics = std::make_shared<LoadgenMetrics>();
  LoadGenService::Limits limits;
  limits.workload = LimitsFlags(args, max_duration);
  limits.max_stored_workloads =
      UintFlag(args, "max-workloads", LoadGenService::kDefaultMaxStoredWorkloads);
  if (limits.max_stored_workloads > 1024) {
    throw UsageError{"--max-workloads: at most 1024"};
  }
  LoadGenService service(allow, limits, RealClock::Get(), metrics.get(), *auth);
  RpcServerOptions rpc;
  rpc.component = "rcbench-loadgen";
  rpc.listen = JoinHostPort(listen->host, listen->port);
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
                                    absl::StrCat("grpc=", JoinHostPort(listen->host, port))};
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
  try {
    Args args = ParseArgs(sub, argc, argv, 2);
    if (args.Has("help")) {
      std::printf("%s", Usage().c_str());
      return 0;
    }
    if (args.Has("log-level")) {
      auto level = ParseLogLevel(args.Get("log-level"));
      if (!level.ok()) throw UsageError{absl::StrCat("--log-level: ", level.status().message())};
      SetLogLevel(*level);
    }
    if (args.Has("die-with-parent")) prctl(PR_SET_PDEATHSIG, SIGTERM);
    AllowList allow = BuildAllowList(args);
    if (sub == "serve") return Serve(args, std::move(allow));
    rcbench::v1::Workload workload;
    if (sub == "http") {
      workload = HttpWorkload(args);
    } else if (sub == "sclient") {
      workload = SClientWorkload(args);
    } else if (sub == "syn") {
      workload = SynWorkload(args);
    } else {
      if (!args.Has("config")) throw UsageError{"`classes` needs --config FILE"};
      auto w = LoadWorkloadConfig(args.Get("config"), &allow);
      if (!w.ok()) {
        std::fprintf(stderr, "rcbench-loadgen classes: %s\n",
                     std::string(w.status().message()).c_str());
        return 2;
      }
      workload = *std::move(w);
    }
    return RunOneShot(sub, args, std::move(workload), std::move(allow));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "rcbench-loadgen %s: %s\n", sub.c_str(), e.message.c_str());
    return 2;
  }
}

}  // namespace rcbench::loadgen
