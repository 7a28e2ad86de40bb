#include "controller/history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "controller/compare_statistics.h"
#include "controller/text_table.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {

const char kHistoryIntervalMethod[] =
    "order-statistic (distribution-free) interval for the median, 95% binomial coverage; "
    "[min, max] with its lower coverage when a point has fewer than 6 runs";
const char kHistorySeries[] = "point medians (where to split) and every run's value (the t-test)";
const char kHistorySeriesMedians[] = "point medians (where to split and the t-test)";

const char* HistorySeriesName(const ChangePointOptions& options) {
  return options.test_medians ? kHistorySeriesMedians : kHistorySeries;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// P(Binomial(n, 1/2) <= k).
double BinomialHalfCdf(size_t n, size_t k) {
  double sum = 0;
  for (size_t i = 0; i <= k && i <= n; ++i) {
    sum += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) -
                    n * std::log(2.0));
  }
  return std::min(sum, 1.0);
}

int64_t StartedMs(const rcbench::v1::Run& run) {
  return run.started_at().seconds() * 1000 + run.started_at().nanos() / 1000000;
}

std::string TagSet(const rcbench::v1::Run& run) {
  std::map<std::string, std::string> sorted(run.tags().begin(), run.tags().end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return parts.empty() ? "(no campaign, no tags)" : absl::StrJoin(parts, ",");
}

std::string KernelOf(const RunRecord& r) {
  std::set<std::string> kernels;
  for (const auto& [host, facts] : r.hosts) {
    if (facts.kernel_release().empty()) continue;
    kernels.insert(facts.kernel_version().empty()
                       ? facts.kernel_release()
                       : absl::StrCat(facts.kernel_release(), " (", facts.kernel_version(), ")"));
  }
  return kernels.empty() ? "(unknown kernel)" : absl::StrJoin(kernels, ", ");
}

std::string PointLabel(const RunRecord& r, HistoryGrouping by) {
  switch (by) {
    case HistoryGrouping::kCampaign:
      // Runs stored before campaigns ("legacy") are told apart by their tags.
      return r.run.campaign().empty() || r.run.campaign() == "legacy" ? TagSet(r.run)
                                                                      : r.run.campaign();
    case HistoryGrouping::kKernel:
      return KernelOf(r);
    case HistoryGrouping::kTime:
      return r.run.run_id();
  }
  return "";
}

absl::StatusOr<std::string> ResolveMetricKey(const std::vector<RunRecord>& runs,
                                             const HistoryOptions& o) {
  std::set<std::string> keys;
  for (const auto& r : runs) {
    if (r.run.status() != rcbench::v1::RUN_STATUS_COMPLETED) continue;
    for (const auto& [k, v] : r.metrics) keys.insert(k);
  }
  std::string key = o.metric;
  if (o.metric.find('{') == std::string::npos) {
    if (!o.load_class.empty()) {
      key = ClassMetricKey(o.metric, o.load_class);
    } else if (!o.container.empty()) {
      key = ContainerMetricKey(o.metric, o.container);
    } else if (!keys.count(o.metric)) {
      std::vector<std::string> matching;
      for (const auto& k : keys) {
        if (MetricBaseName(k) == o.metric) matching.push_back(k);
      }
      if (matching.size() == 1) return matching[0];
      if (matching.size() > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("metric \"", o.metric, "\" is ambiguous in experiment \"", o.experiment,
                         "\"; name one with --class, --container or a full key: ",
                         absl::StrJoin(matching, ", ")));
      }
    }
  }
  if (keys.count(key)) return key;
  return absl::NotFoundError(
      absl::StrCat("no metric \"", key, "\" in the completed runs of experiment \"", o.experiment,
                   "\"; metrics available: ",
                   keys.empty() ? "(none: no completed runs)" : absl::StrJoin(keys, ", ")));
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::abs(v) >= 100) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.4g", v);
}

std::string Percent(double v) {
  return std::isfinite(v) ? absl::StrFormat("%+.1f%%", v * 100) : "-";
}

std::string Rfc3339Ms(int64_t ms) {
  if (ms == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

nlohmann::json NumberOrNull(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

absl::StatusOr<HistoryGrouping> ParseHistoryGrouping(absl::string_view text) {
  if (text == "campaign") return HistoryGrouping::kCampaign;
  if (text == "kernel") return HistoryGrouping::kKernel;
  if (text == "time") return HistoryGrouping::kTime;
  return absl::InvalidArgumentError(
      absl::StrCat("--by \"", text, "\": expected time, kernel or campaign"));
}

const char* HistoryGroupingName(HistoryGrouping grouping) {
  switch (grouping) {
    case HistoryGrouping::kCampaign:
      return "campaign";
    case HistoryGrouping::kKernel:
      return "kernel";
    case HistoryGrouping::kTime:
      return "time";
  }
  return "?";
}

MedianInterval OrderStatisticMedianInterval(std::vector<double> values, double confidence) {
  if (values.empty()) return {kNaN, kNaN, kNaN};
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  // [x(j), x(n+1-j)] (1-based) misses the median with probability 2 P(Bin(n, 1/2) <= j - 1).
  size_t j = 1;
  while (j + 1 <= (n + 1) / 2 && 1 - 2 * BinomialHalfCdf(n, j) >= confidence) ++j;
  const double coverage = std::max(0.0, 1 - 2 * BinomialHalfCdf(n, j - 1));
  return {values[j - 1], values[n - j], coverage};
}

absl::StatusOr<History> BuildHistory(const std::vector<RunRecord>& runs,
                                     const HistoryOptions& options) {
  History h;
  h.options = options;
  RCBENCH_ASSIGN_OR_RETURN(h.metric_key, ResolveMetricKey(runs, options));
  struct Group {
    std::vector<double> values;
    int64_t first_started_unix_ms = std::numeric_limits<int64_t>::max();
  };
  std::map<std::string, Group> groups;
  for (const auto& r : runs) {
    if (r.run.status() != rcbench::v1::RUN_STATUS_COMPLETED) continue;
    auto it = r.metrics.find(h.metric_key);
    if (it == r.metrics.end()) continue;
    Group& g = groups[PointLabel(r, options.by)];
    g.values.push_back(it->second);
    g.first_started_unix_ms = std::min(g.first_started_unix_ms, StartedMs(r.run));
    ++h.runs;
  }
  for (auto& [label, g] : groups) {
    HistoryPoint p;
    p.label = label;
    p.runs = g.values.size();
    p.median = Median(g.values);
    p.interval = OrderStatisticMedianInterval(g.values);
    p.first_started_unix_ms = g.first_started_unix_ms;
    p.values = std::move(g.values);
    h.points.push_back(std::move(p));
  }
  std::stable_sort(h.points.begin(), h.points.end(),
                   [](const HistoryPoint& a, const HistoryPoint& b) {
                     return a.first_started_unix_ms < b.first_started_unix_ms;
                   });
  std::vector<std::vector<double>> values;
  for (const auto& p : h.points) values.push_back(p.values);
  RCBENCH_ASSIGN_OR_RETURN(h.change_points, FindChangePoints(values, options.change_points));
  return h;
}

absl::StatusOr<History> BuildHistory(ResultStore& store, const HistoryOptions& options) {
  RCBENCH_ASSIGN_OR_RETURN(auto experiment, store.GetExperiment(options.experiment));
  if (!experiment) {
    RCBENCH_ASSIGN_OR_RETURN(auto names, store.ListExperiments());
    return absl::NotFoundError(absl::StrCat("no experiment \"", options.experiment,
                                            "\" in the results store; experiments: ",
                                            names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
  }
  RCBENCH_ASSIGN_OR_RETURN(auto runs, LoadRunRecords(store, options.experiment, true));
  return BuildHistory(runs, options);
}

std::string FormatHistoryText(const History& h) {
  const ChangePointOptions& cpo = h.change_points.options;
  std::string out =
      absl::StrCat("history of ", h.metric_key, " in experiment ", h.options.experiment, ", by ",
                   HistoryGroupingName(h.options.by), ": ", h.runs, " completed runs in ",
                   h.points.size(), " points\n\n");
  std::vector<std::vector<std::string>> rows = {
      {"point", "runs", "median", "95% interval", "coverage", "first started", "label"}};
  for (size_t i = 0; i < h.points.size(); ++i) {
    const HistoryPoint& p = h.points[i];
    rows.push_back({absl::StrCat(i), absl::StrCat(p.runs), Num(p.median),
                    absl::StrCat("[", Num(p.interval.low), ", ", Num(p.interval.high), "]"),
                    absl::StrFormat("%.1f%%", p.interval.coverage * 100),
                    Rfc3339Ms(p.first_started_unix_ms), p.label});
  }
  out += TextTable(rows);
  absl::StrAppend(&out, "\nchange points (", kChangePointAlgorithm, " over the ",
                  HistorySeriesName(cpo), "; p-value <= ", cpo.max_p_value,
                  " corrected for the search, minimum segment ", cpo.min_segment, " points):\n");
  if (h.change_points.change_points.empty()) {
    absl::StrAppend(&out, "  none",
                    h.points.size() < 2 * static_cast<size_t>(cpo.min_segment)
                        ? absl::StrCat(" (fewer than ", 2 * cpo.min_segment,
                                       " points: no split has a minimum segment on each side)")
                        : "",
                    "\n");
  }
  for (const auto& c : h.change_points.change_points) {
    absl::StrAppend(&out, "  at point ", c.index, " (", h.points[c.index].label,
                    "): ", Num(c.mean_before), " -> ", Num(c.mean_after), " (",
                    Percent(c.relative_change), "), p = ", absl::StrFormat("%.2g", c.p_value),
                    " (corrected for the search), ", c.n_before, " points (", c.values_before,
                    " runs) before, ", c.n_after, " (", c.values_after, " runs) after\n");
  }
  const ChangePointResult& cp = h.change_points;
  if (cp.points_differ_p_value <= kPointsDifferLevel) {
    absl::StrAppend(&out,
                    "warning: the points differ among themselves by more than their runs do (F = ",
                    absl::StrFormat("%.3g", cp.points_differ_f),
                    ", p = ", absl::StrFormat("%.2g", cp.points_differ_p_value), ")",
                    cpo.test_medians ? ", so the medians are what is tested (--test-on medians)\n"
                                     : ": the t-test over runs overstates its confidence; trust "
                                       "--test-on medians\n");
  }
  absl::StrAppend(&out, "intervals: ", kHistoryIntervalMethod, "\n");
  return out;
}

std::string FormatHistoryJson(const History& h) {
  nlohmann::json j;
  j["experiment"] = h.options.experiment;
  j["metric"] = h.metric_key;
  j["by"] = HistoryGroupingName(h.options.by);
  j["runs"] = h.runs;
  j["interval_method"] = std::string(kHistoryIntervalMethod);
  j["change_point_algorithm"] = std::string(kChangePointAlgorithm);
  j["change_point_series"] = HistorySeriesName(h.change_points.options);
  j["points_differ"] = {{"f", NumberOrNull(h.change_points.points_differ_f)},
                        {"p_value", NumberOrNull(h.change_points.points_differ_p_value)}};
  j["parameters"] = {{"p_value", h.change_points.options.max_p_value},
                     {"min_segment", h.change_points.options.min_segment},
                     {"test_on", h.change_points.options.test_medians ? "medians" : "runs"},
                     {"confidence", 0.95}};
  j["points"] = nlohmann::json::array();
  for (size_t i = 0; i < h.points.size(); ++i) {
    const HistoryPoint& p = h.points[i];
    j["points"].push_back({{"index", i},
                           {"label", p.label},
                           {"runs", p.runs},
                           {"median", NumberOrNull(p.median)},
                           {"low", NumberOrNull(p.interval.low)},
                           {"high", NumberOrNull(p.interval.high)},
                           {"coverage", NumberOrNull(p.interval.coverage)},
                           {"first_started", Rfc3339Ms(p.first_started_unix_ms)}});
  }
  j["change_points"] = nlohmann::json::array();
  for (const auto& c : h.change_points.change_points) {
    j["change_points"].push_back({{"index", c.index},
                                  {"label", h.points[c.index].label},
                                  {"p_value", c.p_value},
                                  {"uncorrected_p_value", c.uncorrected_p_value},
                                  {"t", NumberOrNull(c.t)},
                                  {"energy", c.energy},
                                  {"mean_before", c.mean_before},
                                  {"mean_after", c.mean_after},
                                  {"stddev_before", c.stddev_before},
                                  {"stddev_after", c.stddev_after},
                                  {"relative_change", NumberOrNull(c.relative_change)},
                                  {"n_before", c.n_before},
                                  {"n_after", c.n_after},
                                  {"runs_before", c.values_before},
                                  {"runs_after", c.values_after}});
  }
  return j.dump(2) + "\n";
}

}  // namespace rcbench::controller
