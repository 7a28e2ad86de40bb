#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "controller/cli_commands.h"
#include "controller/compare.h"
#include "controller/report.h"
#include "controller/store.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller::cli {
namespace {

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

}  // namespace

int CmdList(const std::vector<std::string>& argv) {
  int exit_code;
  auto args = ParseCommandArgs(argv, {"--db", "--experiment", "--campaign", "--log-level"},
                               {"--json", "--help"}, kListUsage, &exit_code);
  if (!args) return exit_code;
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
  int exit_code;
  auto args = ParseCommandArgs(
      argv, {"--db", "--experiment", "--campaign", "--format", "--out", "--log-level"},
      {"--no-plots", "--help"}, kReportUsage, &exit_code);
  if (!args) return exit_code;
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
  int exit_code;
  auto args = ParseCommandArgs(
      argv,
      {"--db", "--baseline", "--candidate", "--experiment", "--metric", "--junit", "--log-level"},
      {"--json", "--help"}, kCompareUsage, &exit_code);
  if (!args) return exit_code;
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

}  // namespace rcbench::controller::cli
