#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "controller/analysis.h"
#include "controller/benchmark_json.h"
#include "controller/compare_statistics.h"
#include "controller/paper_figures.h"
#include "controller/report_data.h"
#include "controller/text_table.h"

namespace rcbench::controller {
namespace report_internal {
namespace {

std::string Fmt(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::abs(v) >= 100) return absl::StrFormat("%.0f", v);
  if (std::abs(v) >= 1) return absl::StrFormat("%.2f", v);
  return absl::StrFormat("%.3f", v);
}

// The values of the one label of `metric`'s keys in any combination: "cpu_cores{container=X}"
// gives X for metric "cpu_cores", label "container".
std::set<std::string> LabelValues(const ExperimentData& d, absl::string_view metric,
                                  absl::string_view label) {
  const std::string prefix = absl::StrCat(label, "=");
  std::set<std::string> out;
  for (const auto& [combo, metrics] : d.cells) {
    for (const auto& [k, agg] : metrics) {
      if (MetricBaseName(k) == metric) {
        size_t eq = k.find(prefix);
        out.insert(k.substr(eq + prefix.size(), k.size() - eq - prefix.size() - 1));
      }
    }
  }
  return out;
}

std::set<std::string> ContainersOf(const ExperimentData& d) {
  return LabelValues(d, "cpu_cores", "container");
}

// Below this median a container carries no work, only timers (the tables print 0.000).
constexpr double kIdleCpuCores = 0.0005;

// cpu_cores keys of the containers that carried work in at least one combination.
std::set<std::string> BusyContainerKeys(const ExperimentData& d) {
  std::set<std::string> busy;
  for (const auto& [combo, metrics] : d.cells) {
    for (const auto& [k, agg] : metrics) {
      if (MetricBaseName(k) == "cpu_cores" && Median(agg.values) >= kIdleCpuCores) busy.insert(k);
    }
  }
  return busy;
}

}  // namespace

absl::StatusOr<ExperimentData> LoadExperiment(ResultStore& store, const std::string& name,
                                              const std::string& campaign) {
  ExperimentData d;
  d.name = name;
  RCBENCH_ASSIGN_OR_RETURN(auto rec, store.GetExperiment(name));
  if (!rec) return absl::NotFoundError(absl::StrCat("no experiment \"", name, "\" in the store"));
  d.seed = rec->seed;
  auto spec = ParseSpec(rec->spec_yaml, name);
  if (spec.ok()) {
    d.spec = *std::move(spec);
    for (const auto& f : d.spec->factors) d.factors.push_back(f.name);
  }
  RCBENCH_ASSIGN_OR_RETURN(d.all, LoadRunRecords(store, name, false, campaign));
  if (!d.spec && !d.all.empty()) {
    for (const auto& [k, v] : d.all.front().run.factors()) d.factors.push_back(k);
  }
  if (d.spec) {
    for (const auto& c : ExpandCombinations(*d.spec)) {
      d.combo_order.push_back(c);
    }
  }
  for (const auto& r : d.all) {
    if (r.run.status() != rcbench::v1::RUN_STATUS_COMPLETED) continue;
    Combo combo(r.run.factors().begin(), r.run.factors().end());
    if (std::find(d.combo_order.begin(), d.combo_order.end(), combo) == d.combo_order.end()) {
      d.combo_order.push_back(combo);
    }
    for (const auto& [k, v] : r.metrics) d.cells[combo][k].values.push_back(v);
  }
  return d;
}

std::string ComboText(const Combo& c) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : c) parts.push_back(absl::StrCat(k, "=", v));
  return parts.empty() ? "(no factors)" : absl::StrJoin(parts, " ");
}

std::set<std::string> ClassesOf(const ExperimentData& d) {
  std::set<std::string> out;
  for (const auto& r : d.all) {
    for (const auto& c : r.classes) out.insert(c.class_name());
  }
  return out;
}

// Rows of the aggregated class table: header, then cells.
std::vector<std::vector<std::string>> ClassTable(const ExperimentData& d) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = d.factors;
  for (const char* h : {"class", "n", "throughput_rps", "sd", "p50_us", "p99_us", "errors"}) {
    header.push_back(h);
  }
  rows.push_back(header);
  for (const auto& combo : d.combo_order) {
    auto it = d.cells.find(combo);
    if (it == d.cells.end()) continue;
    for (const auto& cls : ClassesOf(d)) {
      auto get = [&](const char* m) -> const Agg* {
        auto mi = it->second.find(ClassMetricKey(m, cls));
        return mi == it->second.end() ? nullptr : &mi->second;
      };
      const Agg* tput = get("throughput_rps");
      if (tput == nullptr) continue;
      std::vector<std::string> row;
      for (const auto& f : d.factors) {
        auto fi = combo.find(f);
        row.push_back(fi == combo.end() ? "" : fi->second);
      }
      row.push_back(cls);
      row.push_back(absl::StrCat(tput->values.size()));
      row.push_back(Fmt(Median(tput->values)));
      row.push_back(Fmt(tput->Stdev()));
      row.push_back(get("latency_p50_us") ? Fmt(Median(get("latency_p50_us")->values)) : "-");
      row.push_back(get("latency_p99_us") ? Fmt(Median(get("latency_p99_us")->values)) : "-");
      row.push_back(get("errors_total") ? Fmt(Median(get("errors_total")->values)) : "-");
      rows.push_back(row);
    }
  }
  return rows;
}

// Containers idle in every combination, e.g. a server's CGI container in an experiment without
// CGI requests: named under the table instead of filling it with zeros.
std::vector<std::string> IdleContainers(const ExperimentData& d) {
  std::set<std::string> busy = BusyContainerKeys(d);
  std::vector<std::string> out;
  for (const auto& path : ContainersOf(d)) {
    if (!busy.count(ContainerMetricKey("cpu_cores", path))) out.push_back(path);
  }
  return out;
}

// `skip_idle`: leave out containers idle in every combination.
std::vector<std::vector<std::string>> ContainerTable(const ExperimentData& d, bool skip_idle) {
  std::set<std::string> busy = BusyContainerKeys(d);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = d.factors;
  for (const char* h : {"container", "n", "cpu_cores", "sd", "throttled_s"}) header.push_back(h);
  rows.push_back(header);
  for (const auto& combo : d.combo_order) {
    auto it = d.cells.find(combo);
    if (it == d.cells.end()) continue;
    for (const auto& path : ContainersOf(d)) {
      auto mi = it->second.find(ContainerMetricKey("cpu_cores", path));
      if (mi == it->second.end()) continue;
      if (skip_idle && !busy.count(ContainerMetricKey("cpu_cores", path))) continue;
      std::vector<std::string> row;
      for (const auto& f : d.factors) {
        auto fi = combo.find(f);
        row.push_back(fi == combo.end() ? "" : fi->second);
      }
      row.push_back(path);
      row.push_back(absl::StrCat(mi->second.values.size()));
      row.push_back(Fmt(Median(mi->second.values)));
      row.push_back(Fmt(mi->second.Stdev()));
      auto ti = it->second.find(ContainerMetricKey("cpu_throttled_seconds", path));
      row.push_back(ti == it->second.end() ? "-" : Fmt(Median(ti->second.values)));
      rows.push_back(row);
    }
  }
  return rows;
}

// Benchmarks of a micro-benchmark experiment: the paper's Table 1 ones first, in its order,
// then the others by name.
std::vector<std::string> BenchmarksOf(const ExperimentData& d) {
  std::set<std::string> seen = LabelValues(d, "time_per_op_ns", "benchmark");
  std::vector<std::string> out;
  for (const auto& p : PaperTable1()) {
    if (seen.erase(p.benchmark)) out.push_back(p.benchmark);
  }
  out.insert(out.end(), seen.begin(), seen.end());
  return out;
}

// "Primitive costs": per factor combination and benchmark, the median over repetitions of
// each run's time per operation (wall and CPU, µs) beside the paper's Table 1 figure, and the
// ratio of ours (wall) to the paper's.
std::vector<std::vector<std::string>> PrimitiveCostsTable(const ExperimentData& d) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = d.factors;
  for (const char* h :
       {"benchmark", "paper operation", "n", "time_us", "sd", "cpu_us", "paper_us", "ratio"}) {
    header.push_back(h);
  }
  rows.push_back(header);
  const std::vector<std::string> benchmarks = BenchmarksOf(d);
  for (const auto& combo : d.combo_order) {
    auto it = d.cells.find(combo);
    if (it == d.cells.end()) continue;
    for (const auto& b : benchmarks) {
      auto wall = it->second.find(BenchmarkMetricKey("time_per_op_ns", b));
      if (wall == it->second.end()) continue;
      auto cpu = it->second.find(BenchmarkMetricKey("cpu_time_per_op_ns", b));
      std::vector<std::string> row;
      for (const auto& f : d.factors) {
        auto fi = combo.find(f);
        row.push_back(fi == combo.end() ? "" : fi->second);
      }
      const double wall_us = Median(wall->second.values) / 1e3;
      const PaperPrimitive* paper = FindPaperPrimitive(b);
      row.push_back(b);
      row.push_back(paper ? paper->operation : "-");
      row.push_back(absl::StrCat(wall->second.values.size()));
      row.push_back(Fmt(wall_us));
      row.push_back(Fmt(wall->second.Stdev() / 1e3));
      row.push_back(cpu == it->second.end() ? "-" : Fmt(Median(cpu->second.values) / 1e3));
      row.push_back(paper ? Fmt(paper->paper_us) : "-");
      row.push_back(paper ? absl::StrCat(Fmt(wall_us / paper->paper_us), "x") : "-");
      rows.push_back(row);
    }
  }
  return rows;
}

std::string MarkdownTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.size() < 2) return "(no completed runs)\n";
  std::string out = "| " + absl::StrJoin(rows[0], " | ") + " |\n|";
  for (size_t i = 0; i < rows[0].size(); ++i) out += "---|";
  out += "\n";
  for (size_t r = 1; r < rows.size(); ++r) out += "| " + absl::StrJoin(rows[r], " | ") + " |\n";
  return out;
}

std::string HtmlEscape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

std::string HtmlTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.size() < 2) return "<p>(no completed runs)</p>\n";
  std::string out = "<table>\n<tr>";
  for (const auto& h : rows[0]) absl::StrAppend(&out, "<th>", HtmlEscape(h), "</th>");
  out += "</tr>\n";
  for (size_t r = 1; r < rows.size(); ++r) {
    out += "<tr>";
    for (const auto& c : rows[r]) absl::StrAppend(&out, "<td>", HtmlEscape(c), "</td>");
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  return "\"" + absl::StrReplaceAll(s, {{"\"", "\"\""}}) + "\"";
}

}  // namespace report_internal

using report_internal::ClassTable;
using report_internal::ContainerTable;
using report_internal::ExperimentData;
using report_internal::LoadExperiment;
using report_internal::PrimitiveCostsTable;

absl::StatusOr<std::string> ResultsTable(ResultStore& store, const std::string& experiment,
                                         const std::string& campaign) {
  RCBENCH_ASSIGN_OR_RETURN(ExperimentData d, LoadExperiment(store, experiment, campaign));
  auto primitives = PrimitiveCostsTable(d);
  if (primitives.size() > 1) return TextTable(primitives, /*pad_last_column=*/true);
  if (d.spec && d.spec->benchmark) return std::string("(no completed runs)\n");
  std::string out = TextTable(ClassTable(d), /*pad_last_column=*/true);
  auto containers = ContainerTable(d, /*skip_idle=*/true);
  if (containers.size() > 1) out += "\n" + TextTable(containers, /*pad_last_column=*/true);
  return out;
}

}  // namespace rcbench::controller
