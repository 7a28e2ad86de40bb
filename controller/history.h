#pragma once

// `rcbench history`: one metric of an experiment's completed runs as a series of points (a
// campaign, a kernel, or a single run each), with each point's median, a 95% order-statistic
// interval for that median, and the change points of the series (controller/changepoint.h:
// splits proposed on the medians, tested on every run's value). Pure functions over loaded runs,
// plus a loader.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/analysis.h"
#include "controller/changepoint.h"
#include "controller/store.h"

namespace rcbench::controller {

enum class HistoryGrouping {
  kCampaign,  // Run.campaign; runs without one by their tag set ("kernel=a")
  kKernel,    // the hosts' kernel release and version
  kTime,      // one point per run
};

// "campaign", "kernel" or "time"; INVALID_ARGUMENT otherwise.
absl::StatusOr<HistoryGrouping> ParseHistoryGrouping(absl::string_view text);
const char* HistoryGroupingName(HistoryGrouping grouping);

struct HistoryOptions {
  std::string experiment;
  // A full key ("throughput_rps{class=high}") or a base name made a key by load_class or
  // container, or by being the only key with that base name.
  std::string metric;
  std::string load_class;
  std::string container;
  HistoryGrouping by = HistoryGrouping::kCampaign;
  ChangePointOptions change_points;
};

// How the intervals are computed, for reports.
extern const char kHistoryIntervalMethod[];
// What the change points are computed over, for reports: runs (the default) or medians.
extern const char kHistorySeries[];
extern const char kHistorySeriesMedians[];
const char* HistorySeriesName(const ChangePointOptions& options);
// The level at which ChangePointResult::points_differ_p_value earns a warning.
constexpr double kPointsDifferLevel = 0.01;

// A distribution-free interval for the median of `values`: the order statistics x(j) and
// x(n+1-j) with the largest j whose binomial coverage is still >= `confidence`, and that
// coverage. With too few values for the coverage (n < 6 at 95%) it is [min, max] and its
// coverage is lower (93.75% for 5). NaNs for no values.
struct MedianInterval {
  double low = 0;
  double high = 0;
  double coverage = 0;
};
MedianInterval OrderStatisticMedianInterval(std::vector<double> values, double confidence = 0.95);

struct HistoryPoint {
  std::string label;  // the campaign, the tag set, the kernel, or the run id
  size_t runs = 0;
  double median = 0;
  MedianInterval interval;
  int64_t first_started_unix_ms = 0;
  std::vector<double> values;  // the runs' values, in the order they were loaded
};

struct History {
  HistoryOptions options;
  std::string metric_key;
  std::vector<HistoryPoint> points;  // by first start time
  size_t runs = 0;                   // completed runs with the metric
  ChangePointResult change_points;   // indexes into `points`
};

// From loaded runs (only COMPLETED ones count). NOT_FOUND naming the metric and listing the
// metrics the runs have; INVALID_ARGUMENT when a base name matches several keys, or for bad
// change-point options.
absl::StatusOr<History> BuildHistory(const std::vector<RunRecord>& runs,
                                     const HistoryOptions& options);
// Loads the experiment's runs first. NOT_FOUND naming an unknown experiment and listing the
// stored ones.
absl::StatusOr<History> BuildHistory(ResultStore& store, const HistoryOptions& options);

std::string FormatHistoryText(const History& history);
std::string FormatHistoryJson(const History& history);

}  // namespace rcbench::controller
