#include <sys/resource.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/daemon.h"
#include "common/flags.h"
#include "common/logging.h"
#include "controller/cli_commands.h"
#include "controller/controller_metrics.h"
#include "controller/matrix.h"
#include "controller/prometheus_sd.h"
#include "controller/report.h"
#include "controller/runner.h"
#include "controller/spec.h"
#include "controller/store.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller::cli {
namespace {

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

}  // namespace

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
  int exit_code;
  auto args = ParseCommandArgs(argv, kRunValueFlags, kRunBoolFlags, kRunUsage, &exit_code);
  if (!args) return exit_code;
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
  std::unique_ptr<MetricsEndpoint> endpoint;
  std::string metrics_bound;
  const bool publish = args->Has("--prometheus-sd-dir");
  if (args->Has("--metrics-listen") || publish) {
    auto e =
        MetricsEndpoint::Start(args->Get("--metrics-listen", "127.0.0.1:0"), metrics.registry());
    if (!e.ok()) return Fail(e.status());
    endpoint = *std::move(e);
    metrics_bound = endpoint->address();
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
  const char* usage = "usage: rcbench validate SPEC... [--max-planned-runs N (default 100000)]\n";
  int exit_code;
  auto args =
      ParseCommandArgs(argv, {"--log-level", "--max-planned-runs"}, {"--help"}, usage, &exit_code);
  if (!args) return exit_code;
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

}  // namespace rcbench::controller::cli
