#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/metrics_catalog.h"
#include "controller/spec_parser.h"

namespace rcbench::controller::spec_internal {

void SpecParser::ParseRecord(const YAML::Node& n, ExperimentSpec& spec) {
  static const std::vector<std::string> kKinds = {"classes", "containers", "samples", "host_facts"};
  if (!CheckList(n, "record", absl::StrCat("a list of ", absl::StrJoin(kKinds, ", ")))) return;
  for (const auto& item : n) {
    auto s = Scalar(item, "a record item");
    if (!s) continue;
    if (std::find(kKinds.begin(), kKinds.end(), *s) == kKinds.end()) {
      Error(item, absl::StrCat("record item \"", *s, "\" is unknown; expected one of ",
                               absl::StrJoin(kKinds, ", ")));
      continue;
    }
    spec.record.push_back(*s);
  }
}

void SpecParser::ParsePlots(const YAML::Node& n, ExperimentSpec& spec) {
  if (!CheckList(n, "plots", "a list of {name, x, y, series, class|container}")) return;
  std::set<std::string> names;
  for (const auto& item : n) {
    if (!ExpectMap(item, "a plot",
                   {"name", "title", "x", "y", "series", "class", "container", "logscale_y"})) {
      continue;
    }
    PlotSpec p;
    p.pos = Pos(item);
    for (const char* key : {"name", "x", "y"}) {
      if (!item[key]) Error(item, absl::StrCat("a plot lacks \"", key, "\"; expected it set"));
    }
    if (item["name"]) p.name = Scalar(item["name"], "plot name").value_or("");
    if (item["title"]) p.title = Scalar(item["title"], "plot title").value_or("");
    if (item["x"]) p.x = Scalar(item["x"], "plot x").value_or("");
    if (item["y"]) p.y = Scalar(item["y"], "plot y").value_or("");
    if (item["series"]) p.series = Scalar(item["series"], "plot series").value_or("");
    if (item["class"]) p.class_name = Scalar(item["class"], "plot class").value_or("");
    if (item["container"]) p.container = Scalar(item["container"], "plot container").value_or("");
    if (item["logscale_y"]) {
      auto s = Scalar(item["logscale_y"], "logscale_y").value_or("false");
      p.logscale_y = s == "true" || s == "yes" || s == "on";
    }
    if (!p.name.empty() && (!IsIdentifier(p.name) || !names.insert(p.name).second)) {
      Error(item["name"], absl::StrCat("plot name \"", p.name,
                                       "\" is invalid or repeated; expected a unique "
                                       "[A-Za-z0-9_-] name (it names the image files)"));
    }
    if (!p.x.empty() && spec.FindFactor(p.x) == nullptr) {
      Error(item["x"], absl::StrCat("plot x \"", p.x,
                                    "\" is not a factor; expected one of the "
                                    "factors"));
    }
    if (!p.series.empty() && spec.FindFactor(p.series) == nullptr) {
      Error(item["series"], absl::StrCat("plot series \"", p.series,
                                         "\" is not a factor; expected one of the factors"));
    }
    if (!p.y.empty()) {
      if (IsClassMetric(p.y)) {
        if (p.class_name.empty()) {
          Error(item, absl::StrCat("plot of class metric \"", p.y,
                                   "\" lacks \"class\"; expected a load class name"));
        }
      } else if (IsContainerMetric(p.y)) {
        if (p.container.empty()) {
          Error(item, absl::StrCat("plot of container metric \"", p.y,
                                   "\" lacks \"container\"; expected a container path"));
        }
      } else {
        Error(item["y"], absl::StrCat("plot y \"", p.y, "\" is not a metric; expected one of ",
                                      absl::StrJoin(ClassMetricNames(), ", "), ", ",
                                      absl::StrJoin(ContainerMetricNames(), ", ")));
      }
    }
    if (!p.class_name.empty()) {
      bool found = false;
      for (const auto& c : spec.load_classes) found |= c.name == p.class_name;
      if (!found) {
        Error(item["class"], absl::StrCat("plot class \"", p.class_name,
                                          "\" is not a load class; expected one of the "
                                          "load.classes names"));
      }
    }
    spec.plots.push_back(std::move(p));
  }
}

void SpecParser::ParseCompare(const YAML::Node& n, ExperimentSpec& spec) {
  if (!CheckMapping(n, "compare", "METRIC: {direction, min_effect}")) return;
  for (const auto& kv : n) {
    std::string metric = kv.first.Scalar();
    if (!IsClassMetric(metric) && !IsContainerMetric(metric) && !IsBenchmarkMetric(metric)) {
      Error(kv.first, absl::StrCat("compare names unknown metric \"", metric,
                                   "\"; expected one of ", absl::StrJoin(ClassMetricNames(), ", "),
                                   ", ", absl::StrJoin(ContainerMetricNames(), ", "), ", ",
                                   absl::StrJoin(BenchmarkMetricNames(), ", ")));
      continue;
    }
    if (!ExpectMap(kv.second, absl::StrCat("compare.", metric), {"direction", "min_effect"})) {
      continue;
    }
    MetricRule rule = DefaultRuleFor(metric);
    if (kv.second["direction"]) {
      auto d = Scalar(kv.second["direction"], "direction").value_or("");
      if (d == "higher") {
        rule.direction = Direction::kHigherIsBetter;
      } else if (d == "lower") {
        rule.direction = Direction::kLowerIsBetter;
      } else {
        Error(kv.second["direction"],
              absl::StrCat("direction \"", d, "\" is unknown; expected higher or lower"));
      }
    }
    if (kv.second["min_effect"]) {
      auto s = Scalar(kv.second["min_effect"], "min_effect").value_or("");
      auto f = ParseFraction(s, 10.0);
      if (!f.ok()) {
        Error(kv.second["min_effect"],
              absl::StrCat("min_effect: ", f.status().message(), " (e.g. \"5%\")"));
      } else {
        rule.min_effect = *f;
      }
    }
    spec.compare_rules[metric] = rule;
  }
}

}  // namespace rcbench::controller::spec_internal
