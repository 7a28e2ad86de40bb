#pragma once

// `rcbench compare`: selects a baseline and a candidate set of completed runs, compares every
// metric both sides have (medians, % change with a bootstrap 95% CI, Mann-Whitney U p-value,
// verdict by the metric's direction and minimum effect) and warns when the sides differ in
// more than the facts the selectors name.
//
// Selector: comma-separated KEY=VALUE terms that must all hold. KEY is "experiment",
// "factor.NAME", "tag.NAME", "host.FIELD" (hostname, kernel_release, kernel_version,
// cpu_model, cpu_count, os_release, cgroup_mode, sysctl.NAME; true when any host of the run
// matches), or a bare NAME, looked up as a factor, then a tag, then a host field.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/analysis.h"
#include "controller/stats.h"
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

struct CompareReport {
  std::vector<MetricComparison> metrics;
  std::vector<std::string> warnings;
  size_t baseline_runs = 0;
  size_t candidate_runs = 0;
  bool any_worse() const;
};

absl::StatusOr<CompareReport> Compare(ResultStore& store, const CompareOptions& options);

std::string FormatCompareText(const CompareReport& report);
std::string FormatCompareJson(const CompareReport& report);
std::string FormatJunit(const CompareReport& report, const CompareOptions& options);

}  // namespace rcbench::controller
