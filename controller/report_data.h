#pragma once

// Private to the report writer (report*.cc): an experiment's stored runs aggregated by factor
// combination, and the tables and plots drawn from them. report_tables.cc loads the runs and
// lays out the tables (text, Markdown, HTML, CSV); report_plots.cc draws the gnuplot figures
// (per experiment and for a history); report.cc writes a report's files. Pure functions apart
// from LoadExperiment (reads the store) and DrawPlot (writes files, runs gnuplot).

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/report.h"
#include "controller/spec.h"
#include "controller/store.h"

namespace rcbench::controller::report_internal {

struct Agg {
  std::vector<double> values;
  double Mean() const {
    double s = 0;
    for (double v : values) s += v;
    return values.empty() ? 0 : s / values.size();
  }
  double Stdev() const {
    if (values.size() < 2) return 0;
    double m = Mean(), s = 0;
    for (double v : values) s += (v - m) * (v - m);
    return std::sqrt(s / (values.size() - 1));
  }
};

using Combo = std::map<std::string, std::string>;

struct ExperimentData {
  std::string name;
  std::optional<ExperimentSpec> spec;
  uint64_t seed = 0;
  std::vector<RunRecord> all;        // every run
  std::vector<std::string> factors;  // declaration order
  // combo -> metric key -> values over repetitions (completed runs only)
  std::map<Combo, std::map<std::string, Agg>> cells;
  std::vector<Combo> combo_order;
};

// The runs of experiment `name` (of one campaign if given), aggregated by combination.
absl::StatusOr<ExperimentData> LoadExperiment(ResultStore& store, const std::string& name,
                                              const std::string& campaign = "");

std::string ComboText(const Combo& c);
std::set<std::string> ClassesOf(const ExperimentData& d);
std::vector<std::string> BenchmarksOf(const ExperimentData& d);

// Table rows (header first) of the classes, the containers, and the "Primitive costs".
std::vector<std::vector<std::string>> ClassTable(const ExperimentData& d);
// Containers idle in every combination, named under the table instead of filling it with zeros.
std::vector<std::string> IdleContainers(const ExperimentData& d);
// `skip_idle`: leave out containers idle in every combination.
std::vector<std::vector<std::string>> ContainerTable(const ExperimentData& d,
                                                     bool skip_idle = false);
std::vector<std::vector<std::string>> PrimitiveCostsTable(const ExperimentData& d);

// Table rows laid out as Markdown and HTML (aligned text: controller/text_table.h); escaping for
// HTML and CSV.
std::string MarkdownTable(const std::vector<std::vector<std::string>>& rows);
std::string HtmlEscape(const std::string& s);
std::string HtmlTable(const std::vector<std::vector<std::string>>& rows);
std::string CsvField(const std::string& s);

// Plots the spec asks for, or a default: throughput per class over the first factor.
std::vector<PlotSpec> PlotsFor(const ExperimentData& d);
// Draws one plot; returns the files written.
absl::StatusOr<std::vector<std::string>> DrawPlot(const ExperimentData& d, const PlotSpec& p,
                                                  const std::string& plot_dir,
                                                  const std::string& gnuplot);

}  // namespace rcbench::controller::report_internal
