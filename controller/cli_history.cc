#include <cstdio>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/cli_commands.h"
#include "controller/compare.h"
#include "controller/history.h"
#include "controller/report.h"
#include "controller/spec.h"
#include "controller/store.h"

namespace rcbench::controller::cli {
namespace {

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

}  // namespace

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
  int exit_code;
  auto args =
      ParseCommandArgs(argv,
                       {"--db", "--experiment", "--metric", "--class", "--container", "--by",
                        "--p-value", "--min-segment", "--test-on", "--plot", "--log-level"},
                       {"--json", "--help"}, kHistoryUsage, &exit_code);
  if (!args) return exit_code;
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

}  // namespace rcbench::controller::cli
