#pragma once

// Private to the `rcbench` command line (cli*.cc): one function per subcommand, and what the
// subcommands share (flag helpers, the stop flag, running an experiment on its testbed). cli.cc
// holds the dispatcher; each Cmd* lives in the file of its family: cli_run.cc (run, validate),
// cli_results.cc (list, report, compare), cli_history.cc (history, bisect-step), cli_serve.cc
// (serve), cli_execute.cc (ExecuteExperiment). Not thread-safe beyond g_stop.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/cli.h"
#include "controller/controller_config.h"
#include "controller/controller_metrics.h"
#include "controller/prometheus_sd.h"
#include "controller/runner.h"
#include "controller/spec.h"
#include "controller/store.h"
#include "controller/testbed.h"
#include "google/protobuf/map.h"

namespace rcbench::controller::cli {

inline constexpr char kDefaultDb[] = "results/rcbench.db";

// The subcommands. Each returns the process's exit code (cli.h).
int CmdRun(const std::vector<std::string>& argv);
int CmdValidate(const std::vector<std::string>& argv);
int CmdList(const std::vector<std::string>& argv);
int CmdReport(const std::vector<std::string>& argv);
int CmdCompare(const std::vector<std::string>& argv);
int CmdHistory(const std::vector<std::string>& argv);
int CmdBisectStep(const std::vector<std::string>& argv);
int CmdServe(const std::vector<std::string>& argv);

// The options of `run` (bisect-step passes them through).
extern const std::vector<std::string> kRunValueFlags;
extern const std::vector<std::string> kRunBoolFlags;

// Set by SIGINT/SIGTERM once InstallSignalHandlers ran (`run`), or by `serve` on the first stop
// signal (it takes them through common's StopSignals); a second signal exits at once (130).
extern std::atomic<bool> g_stop;
void InstallSignalHandlers();

// The directory of the running binary ("." when unknown).
std::string SelfDir();
// Read-only commands must not create an empty store where none is: NOT_FOUND naming the path.
absl::StatusOr<std::unique_ptr<SqliteResultStore>> OpenExisting(const std::string& path);
// --max-planned-runs (README "Limits").
absl::StatusOr<SpecLimits> ParseSpecLimits(const ParsedArgs& args);
// Print "rcbench: MESSAGE" (and the usage) on stderr; both return exit code 2.
int Fail(const absl::Status& s);
int UsageFailure(absl::string_view message, const char* usage);
// ParseCommandArgs (cli.h) for `rcbench` subcommands: std::cout, std::cerr, "rcbench".
std::optional<ParsedArgs> ParseCommandArgs(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& value_flags,
                                           const std::vector<std::string>& bool_flags,
                                           const char* usage, int* exit_code);
// --log-level, else warnings and errors only.
absl::Status ApplyLogLevel(const ParsedArgs& args);
// --tag KEY=VALUE (repeatable).
absl::StatusOr<std::map<std::string, std::string>> ParseTags(const ParsedArgs& args);
std::string FormatEta(std::chrono::nanoseconds d);
// "k1=v1 k2=v2", sorted by name.
std::string FactorsText(const google::protobuf::Map<std::string, std::string>& f);

// What `run` does for an outside Prometheus: target files, and a hold after the last run.
struct ScrapeSupport {
  PrometheusSdWriter* sd = nullptr;  // null: no target files
  std::chrono::nanoseconds hold{0};
};

// How an experiment's programs and hosts are reached, from the controller's own configuration.
struct ExecutionPolicy {
  ControllerSecurity hosts;  // defaults for the links to remote hosts
  // serve: the programs a submitted spec may name, by name (their paths are used).
  const std::map<std::string, ProgramRule>* programs = nullptr;
};

// The controller's config file with the command line's security flags applied.
absl::StatusOr<ControllerConfig> ResolveControllerConfig(const ParsedArgs& args);

// The fault-tolerance settings: --max-attempts, --host-wait, --retry-failed, --campaign,
// --allow-kernel-change, and the lease from --lease/--lease-renew, else the spec's `lease:`,
// else the defaults. INVALID_ARGUMENT names the flag.
absl::Status ApplyFaultOptions(const ParsedArgs& args, const ExperimentSpec& spec,
                               RunnerOptions& options);

// Runs one experiment on the testbed its spec describes (local children or remote hosts), with
// the fault-tolerance flags of `args` applied to `options`. INVALID_ARGUMENT names a bad flag.
absl::StatusOr<RunSummary> ExecuteExperiment(const ExperimentSpec& spec, ResultStore& store,
                                             const ParsedArgs& args, ControllerMetrics* metrics,
                                             RunnerOptions options, const ExecutionPolicy& policy,
                                             const ScrapeSupport& scrape = {});

}  // namespace rcbench::controller::cli
