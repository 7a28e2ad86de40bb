#include "controller/cli.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "controller/certs_command.h"
#include "controller/cli_commands.h"
#include "controller/netns_topology.h"

namespace rcbench::controller {
namespace {

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

}  // namespace

namespace cli {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};

namespace {

void OnSignal(int) {
  if (g_stop.exchange(true)) {  // second signal: leave now (children die with us)
    RemoveTopologiesFromSignalHandler();
    _exit(130);
  }
}

}  // namespace

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

std::optional<ParsedArgs> ParseCommandArgs(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& value_flags,
                                           const std::vector<std::string>& bool_flags,
                                           const char* usage, int* exit_code) {
  return controller::ParseCommandArgs(argv, value_flags, bool_flags, usage, std::cout, std::cerr,
                                      "rcbench", exit_code);
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

}  // namespace cli

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

std::optional<ParsedArgs> ParseCommandArgs(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& value_flags,
                                           const std::vector<std::string>& bool_flags,
                                           const char* usage, std::ostream& out, std::ostream& err,
                                           absl::string_view program, int* exit_code) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, value_flags, bool_flags);
  if (!args.ok()) {
    err << program << ": " << args.status().message() << "\n" << usage;
    *exit_code = 2;
    return std::nullopt;
  }
  if (args->Has("--help")) {
    out << usage;
    *exit_code = 0;
    return std::nullopt;
  }
  return *std::move(args);
}

int RunCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return cli::UsageFailure("missing command", kUsage);
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
  if (cmd == "run") return cli::CmdRun(rest);
  if (cmd == "validate") return cli::CmdValidate(rest);
  if (cmd == "list") return cli::CmdList(rest);
  if (cmd == "report") return cli::CmdReport(rest);
  if (cmd == "compare") return cli::CmdCompare(rest);
  if (cmd == "history") return cli::CmdHistory(rest);
  if (cmd == "bisect-step") return cli::CmdBisectStep(rest);
  if (cmd == "serve") return cli::CmdServe(rest);
  if (cmd == "certs") return CmdCerts(rest);
  return cli::UsageFailure(
      absl::StrCat("unknown command \"", cmd,
                   "\"; expected run, validate, list, report, compare, history, serve or certs"),
      kUsage);
}

}  // namespace rcbench::controller
