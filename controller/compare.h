#pragma once

// `rcbench compare`: selects a baseline and a candidate set of completed runs and compares
// them cell by cell. A cell is one combination of the experiment and the levels of the factors
// the selectors do not name; the runs of a cell are compared for every metric both sides have
// (medians, % change with a bootstrap 95% CI, Mann-Whitney U p-value, Holm-adjusted across the
// cells of the metric, verdict by the metric's direction and minimum effect; see
// docs/STATISTICS.md). A cell that only one side has is UNKNOWN. It warns when the sides differ
// in tags or host facts the selectors do not name.
//
// Selector: comma-separated KEY=VALUE terms that must all hold. KEY is "experiment",
// "campaign", "factor.NAME", "tag.NAME", "host.FIELD" (hostname, kernel_release,
// kernel_version, cpu_model, cpu_count, os_release, cgroup_mode, sysctl.NAME; true when any
// host of the run matches), or a bare NAME, looked up as a factor, then a tag, then a host
// field.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/analysis.h"
#include "controller/compare_statistics.h"
#include "controller/store.h"

namespace rcbench::controller {

struct SelectorTerm {
  std::string key;
  std::string value;
};

// INVALID_ARGUMENT naming the bad term.
absl::StatusOr<std::vector<SelectorTerm>> ParseSelector(absl::string_view text);
bool Matches(const RunRecord& run, const std::vector<SelectorTerm>& selector);

struct CompareOptions {
  std::string baseline;
  std::string candidate;
  std::string experiment;            // restricts both sides; empty: all experiments
  std::vector<std::string> metrics;  // base names or full keys; empty: all
};

// One combination of factor levels (and the experiment, when the sides span several).
struct CompareCell {
  std::string label;                          // "mode=on,size=2"; "(all)" with nothing to split
  std::map<std::string, std::string> levels;  // "experiment" and factor names -> value
  size_t baseline_runs = 0;
  size_t candidate_runs = 0;
};

// A metric's comparisons, one per cell where either side has it, in the order of
// CompareReport::cells (`cell_labels[i]` names the cell of `cells[i]`), Holm-adjusted as a
// family, and their combined verdict.
struct MetricReport {
  std::string metric;
  Verdict verdict = Verdict::kUnknown;  // CombineVerdicts of the cells
  std::vector<std::string> cell_labels;
  std::vector<MetricComparison> cells;
};

struct CompareReport {
  std::vector<CompareCell> cells;
  std::vector<MetricReport> metrics;
  std::vector<std::string> warnings;
  size_t baseline_runs = 0;
  size_t candidate_runs = 0;
  Verdict overall() const;  // CombineVerdicts of the metrics
  bool any_worse() const;
};

absl::StatusOr<CompareReport> Compare(ResultStore& store, const CompareOptions& options);

std::string FormatCompareText(const CompareReport& report);
std::string FormatCompareJson(const CompareReport& report);
std::string FormatJunit(const CompareReport& report, const CompareOptions& options);

}  // namespace rcbench::controller
