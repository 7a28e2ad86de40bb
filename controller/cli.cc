#include "controller/cli.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/rpc_security.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "controller/certs_command.h"
#include "controller/compare.h"
#include "controller/controller_config.h"
#include "controller/controller_metrics.h"
#include "controller/controller_service.h"
#include "controller/history.h"
#include "controller/matrix.h"
#include "controller/netns_topology.h"
#include "controller/prometheus_sd.h"
#include "controller/report.h"
#include "controller/runner.h"
#include "controller/spec.h"
#include "controller/store.h"
#include "controller/testbed.h"
#include "controller/workload.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

namespace fs = std::filesystem;

constexpr char kDefaultDb[] = "results/rcbench.db";

constexpr char kUsage[] = R"(usage: rcbench COMMAND [options]

Runs experiment matrices on rcbench agents, load generators and servers, keeps every result
in SQLite, draws reports and gives statistical regression verdicts.

commands:
  run SPEC        run an experiment (resumes: completed runs are skipped)
  validate SPEC   check a spec; every problem is reported as FILE:LINE:COLUMN
  list            list stored runs
  report          write tables and plots of stored runs
  compare         compare two sets of runs (exit 0 same/better, 1 worse, 2 error)
  history         one metric over campaigns, kernels or time, with change points
  bisect-step     one step of `git bisect run`: run, compare with a baseline, exit 0/1/125
  serve           serve the rcbench.v1.Controller gRPC service
  certs           make a lab's CA, certificates and token (docs/SECURITY.md)
common options: --db PATH (default results/rcbench.db), --log-level debug|info|warning|error,
                --help. `rcbench COMMAND --help` for a command's options.
)";

constexpr char kRunUsage[] = R"(usage: rcbench run SPEC [options]
  --dry-run              print the planned runs instead of running them
  --json                 with --dry-run: the planned runs as a JSON array
  --db PATH              results store (default results/rcbench.db)
  --tag KEY=VALUE        attach a tag to the runs (repeatable; compare selects on tags)
  --report DIR           write a Markdown report with plots to DIR afterwards
  --metrics-listen ADDR  serve Prometheus /metrics (e.g. 127.0.0.1:0) while running
  --prometheus-sd-dir DIR  write Prometheus file_sd targets DIR/{agent,loadgen,server,
                         controller}.json for dashboards/prometheus/prometheus.yml; emptied on
                         exit (without --metrics-listen, /metrics is served on 127.0.0.1:0)
  --hold-metrics DURATION  after the last run keep the agent, load generator and /metrics up
                         this long (e.g. 15s) so a scraper sees the end state (default 0)
  --bin-dir DIR          where rcbench-agent/-loadgen/-server are (default: beside rcbench)
  --work-dir DIR         ready files and child logs (default: DB_DIR/work/EXPERIMENT)
  --agent-config FILE    local mode: the agent's --config file
  --max-runs N           stop after N runs (they are resumed by the next invocation)
  --campaign NAME        put the runs in this campaign (default: one per kernel identity of the
                         hosts and set of tags; controller/README.md, "Campaigns")
  --allow-kernel-change  add runs to a campaign recorded on another kernel instead of refusing
  faults (controller/README.md, "Fault model"):
  --max-attempts N       attempts per run lost to a host, link or lease (default 3)
  --host-wait DURATION   wait this long for every host to answer before a run (default 60s);
                         hosts still away stop the invocation, the rest stays pending
  --retry-failed         redo runs that failed (they get --max-attempts new attempts)
  --lease DURATION       a load generator stops this long after it last heard from us
                         (default: the spec's lease.length, else 2s)
  --lease-renew DURATION renew the lease this often (default: lease.renew_every, else 500ms;
                         with --lease alone, a quarter of it)
  --max-planned-runs N   refuse specs planning more runs than N (default 100000)
  --log-level LEVEL
  multi-host (docs/SECURITY.md; a host's entry in hosts: may override these):
  --config FILE          the controller's config file (tls, token_file; programs is for serve)
  --tls-cert FILE --tls-key FILE --tls-ca FILE
                         this controller's certificate and key, and the CA of the hosts'
  --token-file FILE      the deployment token presented to every agent and load generator
  (local mode needs none of these: it makes one-time credentials for its children)
)";

constexpr char kListUsage[] =
    R"(usage: rcbench list [--experiment NAME] [--campaign NAME] [--json] [--db PATH]
exit status: 0 runs listed; 2 no runs (or no such experiment), or the store is unreadable.
)";
constexpr char kReportUsage[] = R"(usage: rcbench report [options]
  --experiment NAME   only this experiment (default: all)
  --campaign NAME     only this campaign's runs (default: all)
  --format FORMAT     md (default), html, csv or json
  --out DIR           output directory (default reports/)
  --no-plots          skip the gnuplot figures
  --db PATH
)";
constexpr char kCompareUsage[] =
    R"(usage: rcbench compare --baseline SELECTOR --candidate SELECTOR [options]
  SELECTOR is KEY=VALUE[,KEY=VALUE...]; KEY is experiment, campaign, factor.NAME, tag.NAME,
  host.FIELD (kernel_release, kernel_version, hostname, cpu_model, cpu_count, os_release,
  cgroup_mode, sysctl.NAME) or a bare factor/tag/host field name.
  Runs are compared per cell (the levels of the factors the selectors do not name), with
  Holm's correction across the cells of a metric; see docs/STATISTICS.md.
  --experiment NAME   restrict both sides to one experiment
  --metric M          compare only this metric (repeatable; base name or full key)
  --json              machine-readable output
  --junit FILE        also write a JUnit XML file, a test case per cell and metric
                      (WORSE = failure, UNKNOWN = skipped)
  --db PATH
exit status: 0 no regression, 1 a metric is WORSE in some cell, 2 error.
)";
constexpr char kHistoryUsage[] =
    R"(usage: rcbench history --experiment NAME --metric M [options]
  One metric of the experiment's completed runs as a series of points, each point's median
  with a 95% interval, and the change points of the series (controller/README.md, "History").
  --metric M          a metric key ("throughput_rps{class=high}") or a base name
  --class C           with a base name: the metric of load class C
  --container P       with a base name: the metric of container P
  --by GROUPING       campaign (default; runs without a campaign by their tags), kernel (the
                      hosts' kernel release and version) or time (one point per run)
  --p-value P         a change point needs a t-test p-value, corrected for the search, <= P
                      (default 0.001)
  --min-segment N     the fewest points between change points (default 3, at least 2)
  --test-on WHAT      runs (default: every run's value, so repetitions add power) or medians
                      (one value per point: for points that differ among themselves by more
                      than their runs do, which the output diagnoses)
  --json              machine-readable output
  --plot FILE         also draw the history with gnuplot (FILE ends in .svg or .png)
  --db PATH
exit status: 0 history printed (with or without change points); 2 error, such as an unknown
experiment or metric (the message lists the ones there are).
)";
constexpr char kServeUsage[] = R"(usage: rcbench serve [options]
  --listen ADDR          gRPC address (default 127.0.0.1:0)
  --metrics-listen ADDR  Prometheus /metrics
  --ready-file FILE      write grpc=ADDR (and metrics=ADDR) once listening
  --die-with-parent      exit when the parent process dies
  --db PATH, --bin-dir DIR, --agent-config FILE, --log-level LEVEL
  --config FILE          the controller's config file: tls, token_file, read_token_file,
                         insecure_plaintext, and programs (what submitted specs may run)
  --tls-cert FILE --tls-key FILE --tls-ca FILE
                         mutual TLS for this listener and for the links to the hosts
  --token-file FILE      the deployment token: required from callers (control role) and
                         presented to the hosts
  --read-token-file FILE a token with the read role (ListRuns, WatchRuns, GetResults)
  --max-planned-runs N   refuse submitted specs planning more runs than N (default 100000)
  --insecure-plaintext   allow a plaintext listener on a non-loopback address (not advised)
)";

std::atomic<bool> g_stop{false};

void OnSignal(int) {
  if (g_stop.exchange(true)) {  // second signal: leave now (children die with us)
    RemoveTopologiesFromSignalHandler();
    _exit(130);
  }
}

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string SelfDir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "." : p.parent_path().string();
}

// Read-only commands must not create an empty store where none is.
absl::StatusOr<std::unique_ptr<SqliteResultStore>> OpenExisting(const std::string& path) {
  if (!fs::exists(path)) {
    return absl::NotFoundError(absl::StrCat("no results store at ", path,
                                            " (run an experiment first, or pass --db PATH)"));
  }
  return SqliteResultStore::Open(path);
}

// --max-planned-runs (README "Limits").
absl::StatusOr<SpecLimits> ParseSpecLimits(const ParsedArgs& args) {
  SpecLimits limits;
  if (args.Has("--max-planned-runs") &&
      (!absl::SimpleAtoi(args.Get("--max-planned-runs"), &limits.max_planned_runs) ||
       limits.max_planned_runs == 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--max-planned-runs \"",
                                                   args.Get("--max-planned-runs"),
                                                   "\": expected a positive integer"));
  }
  return limits;
}

int Fail(const absl::Status& s) {
  std::cerr << "rcbench: " << s.message() << "\n";
  return 2;
}

int UsageFailure(absl::string_view message, const char* usage) {
  std::cerr << "rcbench: " << message << "\n" << usage;
  return 2;
}

absl::Status ApplyLogLevel(const ParsedArgs& args) {
  if (!args.Has("--log-level")) {
    SetLogLevel(LogLevel::kWarning);
    return absl::OkStatus();
  }
  auto level = ParseLogLevel(args.Get("--log-level"));
  if (!level.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--log-level: ", level.status().message()));
  }
  SetLogLevel(*level);
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> ParseTags(const ParsedArgs& args) {
  std::map<std::string, std::string> tags;
  auto it = args.flags.find("--tag");
  if (it == args.flags.end()) return tags;
  for (const auto& t : it->second) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tag \"", t, "\": expected KEY=VALUE, e.g. --tag build=patched"));
    }
    tags[t.substr(0, eq)] = t.substr(eq + 1);
  }
  return tags;
}

std::string FormatEta(std::chrono::nanoseconds d) {
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string FactorsText(const google::protobuf::Map<std::string, std::string>& f) {
  std::map<std::string, std::string> sorted(f.begin(), f.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, " ");
}

// What `run` does for an outside Prometheus: target files, and a hold after the last run.
struct ScrapeSupport {
  PrometheusSdWriter* sd = nullptr;  // null: no target files
  std::chrono::nanoseconds hold{0};
};

std::string ValueOr(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}

// Keeps the process (and so the children and /metrics) up for `hold`. A signal ends the hold
// early without counting as an interrupted experiment (the runs are all done).
void HoldMetrics(std::chrono::nanoseconds hold, Clock& clock) {
  std::cerr << "holding metrics endpoints for " << FormatDuration(hold) << "\n";
  const int64_t until = clock.MonotonicNanos() + hold.count();
  while (!g_stop && clock.MonotonicNanos() < until) clock.SleepFor(std::chrono::milliseconds(50));
  g_stop = false;
}

// The controller's config file with the command line's security flags applied.
absl::StatusOr<ControllerConfig> ResolveControllerConfig(const ParsedArgs& args) {
  RCBENCH_ASSIGN_OR_RETURN(
      ControllerConfig config,
      LoadControllerConfig(args.Get("--config"), args.Get("--bin-dir", SelfDir())));
  ServerSecurity flags;
  for (const char* f : kSecurityValueFlags) {
    if (args.Has(f)) ApplySecurityFlag(f, args.Get(f), flags);
  }
  flags.insecure_plaintext = args.Has("--insecure-plaintext");
  config.security = MergeSecurity(config.security, flags);
  return config;
}

// How an experiment's programs and hosts are reached, from the controller's own configuration.
struct ExecutionPolicy {
  ControllerSecurity hosts;  // defaults for the links to remote hosts
  // serve: the programs a submitted spec may name, by name (their paths are used).
  const std::map<std::string, ProgramRule>* programs = nullptr;
};

// The fault-tolerance settings: --max-attempts, --host-wait, --retry-failed, and the lease from
// --lease/--lease-renew, else the spec's `lease:`, else the defaults. INVALID_ARGUMENT names
// the flag.
absl::Status ApplyFaultOptions(const ParsedArgs& args, const ExperimentSpec& spec,
                               RunnerOptions& options) {
  if (args.Has("--max-attempts")) {
    int n = 0;
    if (!absl::SimpleAtoi(args.Get("--max-attempts"), &n) || n < 1 || n > 100) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--max-attempts \"", args.Get("--max-attempts"), "\": expected an integer 1..100"));
    }
    options.max_attempts = n;
  }
  auto duration = [&](const char* flag, std::chrono::nanoseconds min,
                      std::chrono::nanoseconds max) -> absl::StatusOr<std::chrono::nanoseconds> {
    auto d = ParseDuration(args.Get(flag));
    if (!d.ok() || *d < min || *d > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " \"", args.Get(flag), "\": expected a duration from ",
                       FormatDuration(min), " to ", FormatDuration(max), ", such as 30s"));
    }
    return *d;
  };
  if (args.Has("--host-wait")) {
    RCBENCH_ASSIGN_OR_RETURN(options.host_wait, duration("--host-wait", std::chrono::seconds(0),
                                                         std::chrono::hours(24)));
  }
  options.lease.length = spec.lease.length.value_or(kDefaultLeaseLength);
  options.lease.renew_every = spec.lease.renew_every.value_or(kDefaultLeaseRenewEvery);
  if (args.Has("--lease")) {
    RCBENCH_ASSIGN_OR_RETURN(
        options.lease.length,
        duration("--lease", std::chrono::milliseconds(500), std::chrono::hours(1)));
    if (!args.Has("--lease-renew") && !spec.lease.renew_every) {
      options.lease.renew_every = options.lease.length / 4;
    }
  }
  if (args.Has("--lease-renew")) {
    RCBENCH_ASSIGN_OR_RETURN(
        options.lease.renew_every,
        duration("--lease-renew", std::chrono::milliseconds(50), std::chrono::minutes(30)));
  }
  if (absl::Status s = CheckLease(options.lease.length, options.lease.renew_every); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--lease/--lease-renew: ", s.message()));
  }
  options.retry_failed = args.Has("--retry-failed");
  if (args.Has("--campaign")) {
    RCBENCH_RETURN_IF_ERROR(ValidateCampaignName(args.Get("--campaign")));
    options.campaign = args.Get("--campaign");
  }
  options.allow_kernel_change = args.Has("--allow-kernel-change");
  return absl::OkStatus();
}

// Runs one experiment on the testbed its spec describes.
absl::StatusOr<RunSummary> ExecuteExperiment(const ExperimentSpec& spec, ResultStore& store,
                                             const ParsedArgs& args, ControllerMetrics* metrics,
                                             RunnerOptions options, const ExecutionPolicy& policy,
                                             const ScrapeSupport& scrape = {}) {
  RCBENCH_RETURN_IF_ERROR(ApplyFaultOptions(args, spec, options));
  auto program_path = [&](const std::string& name, const std::string& bin_dir) -> std::string {
    if (policy.programs != nullptr) return policy.programs->at(name).path;
    return name.find('/') != std::string::npos ? name : (fs::path(bin_dir) / name).string();
  };
  RealClock& clock = *RealClock::Get();
  std::unique_ptr<Testbed> testbed;
  PublishingOptions publishing;
  publishing.experiment = spec.name;
  std::unique_ptr<BenchmarkExecutor> benchmarks;
  if (spec.local_mode()) {
    LocalTestbedOptions o;
    o.bin_dir = args.Get("--bin-dir", SelfDir());
    fs::path db_dir = fs::path(args.Get("--db", kDefaultDb)).parent_path();
    o.work_dir = args.Get("--work-dir", (db_dir / "work" / spec.name).string());
    o.agent_config = args.Get("--agent-config");
    o.agent_interval = spec.stats_interval;
    if (spec.server) o.server_binary = program_path(spec.server->binary, o.bin_dir);
    RCBENCH_RETURN_IF_ERROR(ConfigureLocalNetwork(spec, o));
    if (scrape.sd != nullptr && o.network == LocalNetwork::kLoopback) {
      // Prometheus applies discovery changes at most every 5 s: a new server address per run
      // would be scraped late or never in short runs, so every run's server gets the same one.
      // (In network namespaces the server's /metrics is on the control link, port 0.)
      RCBENCH_ASSIGN_OR_RETURN(o.server_metrics_listen, PickLoopbackAddress());
      publishing.fixed_server_metrics = o.server_metrics_listen;
    }
    auto local = std::make_unique<LocalTestbed>(o, clock);
    LocalTestbed* children = local.get();
    publishing.server_host = kLocalHost;
    publishing.endpoints = [children] {
      MetricsEndpoints e;
      e.agents[kLocalHost] = ValueOr(children->agent_ready(), "metrics");
      e.loadgens[kLocalHost] = ValueOr(children->loadgen_ready(), "metrics");
      return e;
    };
    testbed = std::move(local);
    if (spec.benchmark) {
      const std::string& b = spec.benchmark->binary;
      benchmarks =
          std::make_unique<LocalBenchmarkExecutor>(program_path(b, o.bin_dir), o.work_dir, clock);
      options.benchmarks = benchmarks.get();
    }
  } else {
    RCBENCH_ASSIGN_OR_RETURN(testbed, RemoteTestbed::Create(spec, clock, policy.hosts));
    if (spec.server) publishing.server_host = ServerAgentName(spec);
  }
  PublishingTestbed published(*testbed, scrape.sd, publishing);
  published.set_defer_stop(true);  // the children outlive the runner until after the hold
  ExperimentRunner runner(spec, store, published, clock, metrics, std::move(options));
  auto summary = runner.Run();
  if (summary.ok() && scrape.hold.count() > 0 && !g_stop) HoldMetrics(scrape.hold, clock);
  testbed->Stop();
  return summary;
}

// The options of `run` (bisect-step passes them through).
const std::vector<std::string> kRunValueFlags = {"--db",
                                                 "--tag",
                                                 "--report",
                                                 "--metrics-listen",
                                                 "--bin-dir",
                                                 "--work-dir",
                                                 "--agent-config",
                                                 "--max-runs",
                                                 "--log-level",
                                                 "--prometheus-sd-dir",
                                                 "--hold-metrics",
                                                 "--config",
                                                 "--tls-cert",
                                                 "--tls-key",
                                                 "--tls-ca",
                                                 "--token-file",
                                                 "--max-planned-runs",
                                                 "--max-attempts",
                                                 "--host-wait",
                                                 "--lease",
                                                 "--lease-renew",
                                                 "--campaign"};
const std::vector<std::string> kRunBoolFlags = {"--dry-run", "--json", "--help", "--retry-failed",
                                                "--allow-kernel-change"};

int CmdRun(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, kRunValueFlags, kRunBoolFlags);
  if (!args.ok()) return UsageFailure(args.status().message(), kRunUsage);
  if (args->Has("--help")) {
    std::cout << kRunUsage;
    return 0;
  }
  if (args->positional.size() != 1) return UsageFailure("run takes one SPEC file", kRunUsage);
  if (auto s = ApplyLogLevel(*args); !s.ok()) return UsageFailure(s.message(), kRunUsage);
  auto tags = ParseTags(*args);
  if (!tags.ok()) return UsageFailure(tags.status().message(), kRunUsage);
  int max_runs = -1;
  if (args->Has("--max-runs") &&
      (!absl::SimpleAtoi(args->Get("--max-runs"), &max_runs) || max_runs < 0)) {
    return UsageFailure("--max-runs: expected a non-negative integer", kRunUsage);
  }
  ScrapeSupport scrape;
  if (args->Has("--hold-metrics")) {
    auto hold = ParseDuration(args->Get("--hold-metrics"));
    if (!hold.ok() || hold->count() < 0) {
      return UsageFailure(absl::StrCat("--hold-metrics \"", args->Get("--hold-metrics"),
                                       "\": expected a duration such as 15s or 2m"),
                          kRunUsage);
    }
    scrape.hold = *hold;
  }
  auto limits = ParseSpecLimits(*args);
  if (!limits.ok()) return UsageFailure(limits.status().message(), kRunUsage);
  auto spec = LoadSpecFile(args->positional[0], *limits);
  if (!spec.ok()) {
    std::cerr << spec.status().message() << "\n";
    return 2;
  }
  {
    RunnerOptions check;
    if (absl::Status s = ApplyFaultOptions(*args, *spec, check); !s.ok()) {
      return UsageFailure(s.message(), kRunUsage);
    }
  }
  auto store = SqliteResultStore::Open(args->Get("--db", kDefaultDb));
  if (!store.ok()) return Fail(store.status());
  if (args->Has("--dry-run")) {
    auto seed = ResolveSeed(*spec, **store);
    if (!seed.ok()) return Fail(seed.status());
    // Run ids depend on the campaign, which a real run decides from the hosts' kernels.
    auto runs = ExpandMatrix(*spec, *seed, args->Get("--campaign"));
    if (!args->Has("--campaign")) {
      std::cerr << "note: run ids are those of campaign (none); a run's campaign is decided "
                   "from the hosts' kernels when it starts (or give --campaign NAME)\n";
    }
    if (args->Has("--json")) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& r : runs) {
        j.push_back({{"experiment", spec->name},
                     {"run_id", r.run_id},
                     {"order", r.order},
                     {"repetition", r.repetition},
                     {"seed", *seed},
                     {"factors", r.factors}});
      }
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << spec->name << ": " << runs.size() << " runs, seed " << *seed << ", "
                << (spec->local_mode() ? "local mode" : "multi-host") << "\n";
      for (const auto& r : runs) {
        std::vector<std::string> parts;
        for (const auto& [k, v] : r.factors) parts.push_back(absl::StrCat(k, "=", v));
        std::cout << absl::StrFormat("%4d  %s  rep %d  %s\n", r.order, r.run_id, r.repetition,
                                     absl::StrJoin(parts, " "));
      }
    }
    return 0;
  }
  InstallSignalHandlers();
  ControllerMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::string metrics_bound;
  const bool publish = args->Has("--prometheus-sd-dir");
  if (args->Has("--metrics-listen") || publish) {
    auto e = ServeMetrics(args->Get("--metrics-listen", "127.0.0.1:0"), metrics.registry(),
                          &metrics_bound);
    if (!e.ok()) return Fail(e.status());
    exposer = *std::move(e);
    std::cerr << "metrics: http://" << metrics_bound << "/metrics\n";
  }
  std::unique_ptr<ExperimentTargetFiles> targets;
  if (publish) {
    auto t = ExperimentTargetFiles::Create(args->Get("--prometheus-sd-dir"), spec->name,
                                           spec->local_mode(), metrics_bound);
    if (!t.ok()) return Fail(t.status());
    targets = *std::move(t);
    scrape.sd = &targets->writer();
  }
  const bool tty = isatty(STDOUT_FILENO);
  RunnerOptions options;
  options.tags = *tags;
  options.max_runs = max_runs;
  options.stop_requested = &g_stop;
  bool line_open = false;  // a progress bar without its newline yet
  options.on_progress = [tty, &line_open](const ProgressEvent& ev) {
    std::string status = RunStatusName(ev.run.status());
    if (tty) {
      const int width = 30;
      int filled = ev.total ? width * ev.done / ev.total : width;
      std::cout << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] "
                << ev.done << "/" << ev.total << " runs, ETA " << FormatEta(ev.eta) << "  "
                << (ev.run.status() == rcbench::v1::RUN_STATUS_FAILED ? "(last failed) " : "")
                << "\x1b[K" << std::flush;
      line_open = true;
      if (ev.run.status() == rcbench::v1::RUN_STATUS_FAILED) {
        std::cerr << "\nrun " << ev.run.run_id() << " failed: " << ev.run.error() << "\n";
        line_open = false;
      }
      if (ev.done == ev.total) {
        std::cout << "\n";
        line_open = false;
      }
    } else {
      std::cout << "run " << ev.done << "/" << ev.total << " " << status << ": " << ev.run.run_id()
                << " rep " << ev.run.repetition() << " " << FactorsText(ev.run.factors())
                << (ev.run.error().empty() ? "" : " error: " + ev.run.error()) << "\n"
                << std::flush;
    }
  };
  // Phases, losses, redos and waits, one line each on stderr (the progress bar is on stdout).
  options.on_message = [tty, &line_open](const std::string& text) {
    if (tty && line_open) {
      std::cout << "\r\x1b[K" << std::flush;
      line_open = false;
    }
    std::cerr << text << "\n" << std::flush;
  };
  // On a terminal the progress bar shows how far it is; in a log every phase gets a line.
  if (tty) options.on_phase = [](const std::string&) {};
  auto config = ResolveControllerConfig(*args);
  if (!config.ok()) return Fail(config.status());
  ExecutionPolicy policy;
  policy.hosts = {config->security.tls, config->security.token_file};
  auto summary = ExecuteExperiment(*spec, **store, *args, &metrics, options, policy, scrape);
  targets.reset();  // the children are gone: so are their targets
  if (line_open) std::cout << "\n";
  if (!summary.ok()) return Fail(summary.status());
  std::cout << spec->name << " campaign " << summary->campaign << ": " << summary->completed
            << " completed, " << summary->failed << " failed, " << summary->skipped
            << " already done, of " << summary->total << " runs (seed " << summary->seed << ")\n";
  if (summary->stopped) {
    std::cout << "stopped early; `rcbench run " << args->positional[0]
              << "` resumes where it left off\n";
  }
  auto table = ResultsTable(**store, spec->name, summary->campaign);
  if (table.ok()) std::cout << "\n" << *table;
  if (args->Has("--report")) {
    ReportOptions ro;
    ro.experiment = spec->name;
    ro.out_dir = args->Get("--report");
    auto files = WriteReport(**store, ro);
    if (!files.ok()) return Fail(files.status());
    for (const auto& w : files->warnings) std::cerr << "report: " << w << "\n";
    std::cout << "\nreport: " << files->report << " (" << files->plots.size() << " plot files in "
              << ro.out_dir << "/plots)\n";
  }
  std::cout << "results: " << args->Get("--db", kDefaultDb) << "\n";
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  RCBENCH_LOG(INFO) << "controller CPU (without children): user "
                    << self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 << " s, system "
                    << self.ru_stime.tv_sec + self.ru_stime.tv_usec / 1e6 << " s";
  if (g_stop) return 130;
  return summary->failed > 0 ? 1 : 0;
}

int CmdValidate(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, {"--log-level", "--max-planned-runs"}, {"--help"});
  const char* usage = "usage: rcbench validate SPEC... [--max-planned-runs N (default 100000)]\n";
  if (!args.ok()) return UsageFailure(args.status().message(), usage);
  if (args->Has("--help")) {
    std::cout << usage;
    return 0;
  }
  if (args->positional.empty()) return UsageFailure("validate takes SPEC files", usage);
  auto limits = ParseSpecLimits(*args);
  if (!limits.ok()) return UsageFailure(limits.status().message(), usage);
  int rc = 0;
  for (const auto& path : args->positional) {
    auto spec = LoadSpecFile(path, *limits);
    if (!spec.ok()) {
      std::cerr << spec.status().message() << "\n";
      rc = 2;
      continue;
    }
    auto combos = ExpandCombinations(*spec);
    std::cout << path << ": ok (" << spec->name << ", " << combos.size() * spec->repetitions
              << " runs, " << (spec->local_mode() ? "local mode" : "multi-host") << ")\n";
  }
  return rc;
}

std::string Rfc3339(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                          absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()),
                          absl::UTCTimeZone());
}

// Every attempt at a run: its number, how it ended, why, and whether the infrastructure (a
// host, a link, a lease, the controller) was to blame.
nlohmann::json AttemptsJson(const rcbench::v1::Run& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : r.attempts()) {
    out.push_back({{"attempt", a.attempt()},
                   {"status", RunStatusName(a.status())},
                   {"reason", a.reason()},
                   {"infrastructure", a.infrastructure()},
                   {"started_at", Rfc3339(a.started_at())},
                   {"finished_at", Rfc3339(a.finished_at())}});
  }
  return out;
}

int CmdList(const std::vector<std::string>& argv) {
  auto args =
      ParseArgs(argv, {"--db", "--experiment", "--campaign", "--log-level"}, {"--json", "--help"});
  if (!args.ok()) return UsageFailure(args.status().message(), kListUsage);
  if (args->Has("--help")) {
    std::cout << kListUsage;
    return 0;
  }
  auto store = OpenExisting(args->Get("--db", kDefaultDb));
  if (!store.ok()) return Fail(store.status());
  auto runs = (*store)->ListRuns(args->Get("--experiment"));
  if (!runs.ok()) return Fail(runs.status());
  if (args->Has("--campaign")) {
    std::erase_if(
        *runs, [&](const rcbench::v1::Run& r) { return r.campaign() != args->Get("--campaign"); });
  }
  if (runs->empty()) {
    // Nothing printed with exit 0 would look like a store that lost its runs.
    const std::string experiment = args->Get("--experiment");
    return Fail(absl::NotFoundError(absl::StrCat(
        "no runs in results store ", args->Get("--db", kDefaultDb),
        experiment.empty() ? "" : absl::StrCat(" for experiment \"", experiment, "\""))));
  }
  if (args->Has("--json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : *runs) {
      std::map<std::string, std::string> f(r.factors().begin(), r.factors().end());
      std::map<std::string, std::string> t(r.tags().begin(), r.tags().end());
      j.push_back({{"experiment", r.experiment()},
                   {"run_id", r.run_id()},
                   {"order", r.order()},
                   {"repetition", r.repetition()},
                   {"factors", f},
                   {"tags", t},
                   {"seed", r.seed()},
                   {"status", RunStatusName(r.status())},
                   {"error", r.error()},
                   {"campaign", r.campaign()},
                   {"attempts", AttemptsJson(r)}});
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const auto& r : *runs) {
    std::cout << absl::StrFormat(
        "%-10s %4d  %s  rep %d  %-11s %s%s%s\n", r.experiment(), r.order(), r.run_id(),
        r.repetition(), RunStatusName(r.status()), FactorsText(r.factors()),
        r.attempts_size() > 1 ? absl::StrCat("  (", r.attempts_size(), " attempts)") : "",
        r.error().empty() ? "" : "  error: " + r.error());
  }
  return 0;
}

int CmdReport(const std::vector<std::string>& argv) {
  auto args =
      ParseArgs(argv, {"--db", "--experiment", "--campaign", "--format", "--out", "--log-level"},
                {"--no-plots", "--help"});
  if (!args.ok()) return UsageFailure(args.status().message(), kReportUsage);
  if (args->Has("--help")) {
    std::cout << kReportUsage;
    return 0;
  }
  ReportOptions o;
  o.experiment = args->Get("--experiment");
  o.campaign = args->Get("--campaign");
  o.format = args->Get("--format", "md");
  o.out_dir = args->Get("--out", "reports");
  o.plots = !args->Has("--no-plots");
  if (o.format != "md" && o.format != "html" && o.format != "csv" && o.format != "json") {
    return UsageFailure(absl::StrCat("--format \"", o.format, "\": expected md, html, csv or json"),
                        kReportUsage);
  }
  auto store = OpenExisting(args->Get("--db", kDefaultDb));
  if (!store.ok()) return Fail(store.status());
  auto files = WriteReport(**store, o);
  if (!files.ok()) return Fail(files.status());
  for (const auto& w : files->warnings) std::cerr << "warning: " << w << "\n";
  std::cout << files->report << "\n";
  for (const auto& p : files->plots) std::cout << p << "\n";
  return 0;
}

int CmdCompare(const std::vector<std::string>& argv) {
  auto args = ParseArgs(
      argv,
      {"--db", "--baseline", "--candidate", "--experiment", "--metric", "--junit", "--log-level"},
      {"--json", "--help"});
  if (!args.ok()) return UsageFailure(args.status().message(), kCompareUsage);
  if (args->Has("--help")) {
    std::cout << kCompareUsage;
    return 0;
  }
  if (!args->Has("--baseline") || !args->Has("--candidate")) {
    return UsageFailure("compare needs --baseline and --candidate", kCompareUsage);
  }
  CompareOptions o;
  o.baseline = args->Get("--baseline");
  o.candidate = args->Get("--candidate");
  o.experiment = args->Get("--experiment");
  if (auto it = args->flags.find("--metric"); it != args->flags.end()) o.metrics = it->second;
  auto store = OpenExisting(args->Get("--db", kDefaultDb));
  if (!store.ok()) return Fail(store.status());
  auto report = Compare(**store, o);
  if (!report.ok()) return Fail(report.status());
  std::cout << (args->Has("--json") ? FormatCompareJson(*report) : FormatCompareText(*report));
  if (args->Has("--junit")) {
    std::ofstream out(args->Get("--junit"));
    out << FormatJunit(*report, o);
    if (!out) return Fail(absl::InternalError("cannot write " + args->Get("--junit")));
  }
  return report->any_worse() ? 1 : 0;
}

constexpr char kBisectUsage[] =
    R"(usage: rcbench bisect-step --baseline SELECTOR SPEC [--metric M]... [run options]
Runs SPEC as a campaign of its own, compares it with the baseline and exits as `git bisect run`
expects, so that `git bisect run rcbench bisect-step --baseline tag.role=good spec.yaml` finds
the commit that made a metric WORSE:
  0    SAME or BETTER (good)
  1    WORSE (bad)
  125  UNKNOWN (the runs cannot tell; the output shows the range of change it is unsure
       about), or a run failed: git bisect skips the commit
  128  an error (bad arguments, unreadable store, hosts away): git bisect stops
Inside a git work tree the campaign is commit-<12 hex digits of HEAD> (with -dirty when the
tree has changes) and the runs are tagged commit=<HEAD>; elsewhere it is bisect-<UTC time>.
  --baseline SELECTOR   the known-good runs (compare's selectors, e.g. tag.role=good or
                        campaign=NAME)
  --metric M            compare only this metric (repeatable; default: every metric)
  --campaign NAME       the campaign to run into (default: from the commit)
  every `rcbench run` option (--db, --tag, --max-attempts, TLS flags, ...)
)";

// HEAD of the git work tree around the current directory ("" outside one), "-dirty" appended
// when tracked files have changes.
std::string GitHead() {
  auto run = [](const char* cmd) {
    std::string out;
    FILE* p = popen(cmd, "r");
    if (p == nullptr) return out;
    char buf[256];
    while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    if (pclose(p) != 0) return std::string();
    return std::string(absl::StripAsciiWhitespace(out));
  };
  std::string head = run("git rev-parse --verify -q HEAD 2>/dev/null");
  if (head.size() != 40) return "";
  if (!run("git status --porcelain --untracked-files=no 2>/dev/null").empty()) head += "-dirty";
  return head;
}

int CmdBisectStep(const std::vector<std::string>& argv) {
  // git bisect run treats 128 and above (but not 125) as "stop bisecting".
  constexpr int kAbort = 128;
  std::vector<std::string> run_argv;
  std::string baseline;
  std::vector<std::string> metrics;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kBisectUsage;
      return 0;
    }
    if ((a == "--baseline" || a == "--metric") && i + 1 < argv.size()) {
      (a == "--baseline" ? baseline : metrics.emplace_back()) = argv[++i];
      continue;
    }
    if (absl::StartsWith(a, "--baseline=")) {
      baseline = a.substr(11);
      continue;
    }
    if (absl::StartsWith(a, "--metric=")) {
      metrics.push_back(a.substr(9));
      continue;
    }
    run_argv.push_back(a);
  }
  if (baseline.empty()) {
    std::cerr << "rcbench bisect-step: --baseline SELECTOR is required\n" << kBisectUsage;
    return kAbort;
  }
  if (auto sel = ParseSelector(baseline); !sel.ok()) {
    std::cerr << "rcbench bisect-step: --baseline: " << sel.status().message() << "\n";
    return kAbort;
  }
  // The spec and the store the run will use, for the comparison afterwards.
  auto args = ParseArgs(run_argv, kRunValueFlags, kRunBoolFlags);
  if (!args.ok() || args->positional.size() != 1) {
    std::cerr << "rcbench bisect-step: "
              << (args.ok() ? "expected one SPEC" : std::string(args.status().message())) << "\n"
              << kBisectUsage;
    return kAbort;
  }
  auto limits = ParseSpecLimits(*args);
  if (!limits.ok()) return kAbort;
  auto spec = LoadSpecFile(args->positional[0], *limits);
  if (!spec.ok()) {
    std::cerr << spec.status().message() << "\n";
    return kAbort;
  }
  const std::string head = GitHead();
  std::string campaign = args->Get("--campaign");
  if (campaign.empty() && !head.empty()) {
    campaign =
        absl::StrCat("commit-", head.substr(0, 12), absl::EndsWith(head, "-dirty") ? "-dirty" : "");
  }
  if (campaign.empty()) {
    // Not in a git tree: a new campaign of its own all the same.
    campaign = absl::StrCat("bisect-",
                            absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()));
  }
  std::vector<std::string> full = run_argv;
  if (!args->Has("--campaign")) {
    full.push_back("--campaign");
    full.push_back(campaign);
  }
  if (!head.empty()) {
    full.push_back("--tag");
    full.push_back("commit=" + head);
  }
  std::cerr << "bisect-step: running " << spec->name << " as campaign " << campaign << "\n";
  const int rc = CmdRun(full);
  if (rc == 130) return rc;  // interrupted: stop bisecting
  if (rc == 1) {
    std::cerr << "bisect-step: a run failed: skip (exit 125)\n";
    return 125;
  }
  if (rc != 0) return kAbort;
  CompareOptions o;
  o.baseline = baseline;
  o.candidate = "campaign=" + campaign;
  o.experiment = spec->name;
  o.metrics = metrics;
  auto store = OpenExisting(args->Get("--db", kDefaultDb));
  if (!store.ok()) {
    std::cerr << "rcbench bisect-step: " << store.status().message() << "\n";
    return kAbort;
  }
  auto report = Compare(**store, o);
  if (!report.ok()) {
    std::cerr << "rcbench bisect-step: " << report.status().message() << "\n";
    return kAbort;
  }
  std::cout << "\n" << FormatCompareText(*report);
  const Verdict v = report->overall();
  const int exit_code = v == Verdict::kWorse ? 1 : v == Verdict::kUnknown ? 125 : 0;
  std::cout << "bisect-step: " << VerdictName(v) << " against " << baseline << " -> "
            << (exit_code == 0   ? "good"
                : exit_code == 1 ? "bad"
                                 : "skip")
            << " (exit " << exit_code << ")\n";
  return exit_code;
}

int CmdHistory(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv,
                        {"--db", "--experiment", "--metric", "--class", "--container", "--by",
                         "--p-value", "--min-segment", "--test-on", "--plot", "--log-level"},
                        {"--json", "--help"});
  if (!args.ok()) return UsageFailure(args.status().message(), kHistoryUsage);
  if (args->Has("--help")) {
    std::cout << kHistoryUsage;
    return 0;
  }
  if (!args->Has("--experiment") || !args->Has("--metric")) {
    return UsageFailure("history needs --experiment and --metric", kHistoryUsage);
  }
  if (args->Has("--class") && args->Has("--container")) {
    return UsageFailure("--class and --container exclude each other", kHistoryUsage);
  }
  HistoryOptions o;
  o.experiment = args->Get("--experiment");
  o.metric = args->Get("--metric");
  o.load_class = args->Get("--class");
  o.container = args->Get("--container");
  auto by = ParseHistoryGrouping(args->Get("--by", "campaign"));
  if (!by.ok()) return UsageFailure(by.status().message(), kHistoryUsage);
  o.by = *by;
  if (args->Has("--p-value") &&
      (!absl::SimpleAtod(args->Get("--p-value"), &o.change_points.max_p_value) ||
       !(o.change_points.max_p_value > 0 && o.change_points.max_p_value < 1))) {
    return UsageFailure(
        absl::StrCat("--p-value \"", args->Get("--p-value"), "\": expected a number in (0, 1)"),
        kHistoryUsage);
  }
  if (args->Has("--min-segment") &&
      (!absl::SimpleAtoi(args->Get("--min-segment"), &o.change_points.min_segment) ||
       o.change_points.min_segment < 2)) {
    return UsageFailure(absl::StrCat("--min-segment \"", args->Get("--min-segment"),
                                     "\": expected an integer of at least 2"),
                        kHistoryUsage);
  }
  if (const std::string on = args->Get("--test-on", "runs"); on == "medians") {
    o.change_points.test_medians = true;
  } else if (on != "runs") {
    return UsageFailure(absl::StrCat("--test-on \"", on, "\": expected runs or medians"),
                        kHistoryUsage);
  }
  auto store = OpenExisting(args->Get("--db", kDefaultDb));
  if (!store.ok()) return Fail(store.status());
  auto history = BuildHistory(**store, o);
  if (!history.ok()) return Fail(history.status());
  std::cout << (args->Has("--json") ? FormatHistoryJson(*history) : FormatHistoryText(*history));
  if (args->Has("--plot")) {
    if (auto s = DrawHistoryPlot(*history, {args->Get("--plot")}); !s.ok()) return Fail(s);
    if (!args->Has("--json")) std::cout << "plot: " << args->Get("--plot") << "\n";
  }
  return 0;
}

int CmdServe(const std::vector<std::string>& argv) {
  auto args = ParseArgs(
      argv,
      {"--db", "--listen", "--metrics-listen", "--ready-file", "--bin-dir", "--agent-config",
       "--log-level", "--work-dir", "--config", "--tls-cert", "--tls-key", "--tls-ca",
       "--token-file", "--read-token-file", "--max-planned-runs"},
      {"--die-with-parent", "--help", "--insecure-plaintext"});
  if (!args.ok()) return UsageFailure(args.status().message(), kServeUsage);
  if (args->Has("--help")) {
    std::cout << kServeUsage;
    return 0;
  }
  if (auto s = ApplyLogLevel(*args); !s.ok()) return UsageFailure(s.message(), kServeUsage);
  if (args->Has("--die-with-parent")) prctl(PR_SET_PDEATHSIG, SIGTERM);
  auto limits = ParseSpecLimits(*args);
  if (!limits.ok()) return UsageFailure(limits.status().message(), kServeUsage);
  auto store = SqliteResultStore::Open(args->Get("--db", kDefaultDb));
  if (!store.ok()) return Fail(store.status());
  auto config = ResolveControllerConfig(*args);
  if (!config.ok()) return Fail(config.status());
  std::string listen = args->Get("--listen", "127.0.0.1:0");
  auto listen_hp = ParseHostPort(listen);
  if (!listen_hp.ok())
    return UsageFailure(absl::StrCat("--listen: ", listen_hp.status().message()), kServeUsage);
  if (auto s = CheckListenSecurity("rcbench serve", *listen_hp, config->security); !s.ok()) {
    return Fail(s);
  }
  auto auth = Authorizer::Load("rcbench serve", config->security);
  if (!auth.ok()) return Fail(auth.status());
  ControllerMetrics metrics;
  ParsedArgs exec_args = *args;
  ExecutionPolicy policy;
  policy.hosts = {config->security.tls, config->security.token_file};
  policy.programs = &config->programs;
  ControllerService service(
      **store,
      [&](const ExperimentSpec& spec, const std::map<std::string, std::string>& tags) {
        RunnerOptions o;
        o.tags = tags;
        o.stop_requested = &g_stop;
        return ExecuteExperiment(spec, **store, exec_args, &metrics, o, policy).status();
      },
      *auth, [&](const ExperimentSpec& spec) { return AdmitSubmittedSpec(spec, config->programs); },
      *limits);
  RpcServerOptions rpc;
  rpc.component = "rcbench serve";
  rpc.listen = listen;
  rpc.security = config->security;
  rpc.audited_methods = ControllerService::MutatingMethods();
  auto built = BuildRpcServer(rpc, {&service});
  if (!built.ok()) return Fail(built.status());
  std::unique_ptr<grpc::Server> server = std::move(built->server);
  const int port = built->port;
  std::string host = listen.substr(0, listen.rfind(':'));
  std::string ready = absl::StrCat("pid=", getpid(), "\ngrpc=", host, ":", port, "\n");
  std::unique_ptr<prometheus::Exposer> exposer;
  if (args->Has("--metrics-listen")) {
    std::string bound;
    auto e = ServeMetrics(args->Get("--metrics-listen"), metrics.registry(), &bound);
    if (!e.ok()) return Fail(e.status());
    exposer = *std::move(e);
    absl::StrAppend(&ready, "metrics=", bound, "\n");
  }
  if (args->Has("--ready-file")) {
    std::string path = args->Get("--ready-file");
    {
      std::ofstream out(path + ".tmp");
      out << ready;
    }
    fs::rename(path + ".tmp", path);
  }
  std::cerr << "rcbench serve: listening on " << host << ":" << port << "\n";
  InstallSignalHandlers();
  while (!g_stop) usleep(100000);
  service.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace

std::string ParsedArgs::Get(const std::string& flag, const std::string& fallback) const {
  auto it = flags.find(flag);
  return it == flags.end() || it->second.empty() ? fallback : it->second.back();
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<std::string>& value_flags,
                                     const std::vector<std::string>& bool_flags) {
  // common/flags.h's parser over a table made from the two lists. Value flags are repeatable
  // here: the last one given wins (Get), and --tag/--metric collect every value.
  std::vector<std::string> names;  // the FlagSpecs point into these
  names.reserve(value_flags.size() + bool_flags.size());
  std::vector<FlagSpec> table;
  for (const auto* list : {&value_flags, &bool_flags}) {
    for (const std::string& f : *list) {
      names.push_back(std::string(absl::StripPrefix(f, "--")));
      FlagSpec spec{names.back().c_str()};
      spec.takes_value = list == &value_flags;
      spec.repeatable = true;
      spec.short_name = names.back() == "help" ? 'h' : '\0';
      table.push_back(spec);
    }
  }
  RCBENCH_ASSIGN_OR_RETURN(ParsedFlags parsed, ParseFlags(args, table));
  ParsedArgs out;
  out.positional = parsed.positional();
  out.positional.insert(out.positional.end(), parsed.rest().begin(), parsed.rest().end());
  for (const FlagSpec& f : table) {
    if (!parsed.Has(f.name)) continue;
    std::vector<std::string> values = parsed.All(f.name);
    if (!f.takes_value) values.assign(values.size(), "");
    out.flags[absl::StrCat("--", f.name)] = std::move(values);
  }
  return out;
}

int RunCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return UsageFailure("missing command", kUsage);
  const std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "--version") {
    std::cout << "rcbench " << kVersion << "\n";
    return 0;
  }
  if (cmd == "run") return CmdRun(rest);
  if (cmd == "validate") return CmdValidate(rest);
  if (cmd == "list") return CmdList(rest);
  if (cmd == "report") return CmdReport(rest);
  if (cmd == "compare") return CmdCompare(rest);
  if (cmd == "history") return CmdHistory(rest);
  if (cmd == "bisect-step") return CmdBisectStep(rest);
  if (cmd == "serve") return CmdServe(rest);
  if (cmd == "certs") return CmdCerts(rest);
  return UsageFailure(
      absl::StrCat("unknown command \"", cmd,
                   "\"; expected run, validate, list, report, compare, history, serve or certs"),
      kUsage);
}

}  // namespace rcbench::controller
