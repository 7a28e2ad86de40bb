#pragma once

// `rcbench report`: tables of stored runs (Markdown, HTML, CSV or JSON) and the spec's plots
// drawn with gnuplot as PNG and SVG (x = a factor, y = a metric, one series per level of
// another factor, error bars = one standard deviation over the repetitions), and, when an
// experiment's runs form at least two campaigns, its history with change points.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/history.h"
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

// Draws a history (controller/history.h) with gnuplot: the points' medians with their intervals
// as error bars, each change point as a dashed line labelled with its relative change, and the
// parameters in the caption. One file per entry of `files`, by extension (.svg or .png); the data
// and the script are written beside the first as FILE.dat and FILE.gp. INVALID_ARGUMENT for
// another extension, UNAVAILABLE when gnuplot fails.
absl::Status DrawHistoryPlot(const History& history, const std::vector<std::string>& files,
                             const std::string& gnuplot = "gnuplot");

absl::StatusOr<ReportFiles> WriteReport(ResultStore& store, const ReportOptions& options);

// The aggregated results table (one row per factor combination and class) as plain text, for
// `make run` and the end of `rcbench run`.
absl::StatusOr<std::string> ResultsTable(ResultStore& store, const std::string& experiment,
                                         const std::string& campaign = "");

}  // namespace rcbench::controller
