#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/campaign.h"
#include "controller/cli_commands.h"
#include "controller/netns_topology.h"
#include "controller/runner.h"
#include "controller/spec_render.h"
#include "controller/testbed.h"

namespace rcbench::controller::cli {

namespace fs = std::filesystem;
namespace {

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

}  // namespace

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
                                             const ScrapeSupport& scrape) {
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

}  // namespace rcbench::controller::cli
