#pragma once

// `rcbench report`: tables of stored runs (Markdown, HTML, CSV or JSON) and the spec's plots
// drawn with gnuplot as PNG and SVG (x = a factor, y = a metric, one series per level of
// another factor, error bars = one standard deviation over the repetitions).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store.h"

namespace rcbench::controller {

struct ReportOptions {
  std::string experiment;     // empty: every stored experiment
  std::string format = "md";  // md, html, csv, json
  std::string out_dir = "reports";
  bool plots = true;
  std::string gnuplot = "gnuplot";
  std::string campaign = "";  // empty: every campaign
};

struct ReportFiles {
  std::string report;              // the table file
  std::vector<std::string> plots;  // PNG and SVG files
  std::vector<std::string> warnings;
};

absl::StatusOr<ReportFiles> WriteReport(ResultStore& store, const ReportOptions& options);

// The aggregated results table (one row per factor combination and class) as plain text, for
// `make run` and the end of `rcbench run`.
absl::StatusOr<std::string> ResultsTable(ResultStore& store, const std::string& experiment,
                                         const std::string& campaign = "");

}  // namespace rcbench::controller
