#include "controller/report.h"

#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

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
#include "controller/spec.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {

using report_internal::BenchmarksOf;
using report_internal::ClassesOf;
using report_internal::ClassTable;
using report_internal::Combo;
using report_internal::ComboText;
using report_internal::ContainerTable;
using report_internal::CsvField;
using report_internal::DrawPlot;
using report_internal::ExperimentData;
using report_internal::HtmlEscape;
using report_internal::HtmlTable;
using report_internal::IdleContainers;
using report_internal::LoadExperiment;
using report_internal::MarkdownTable;
using report_internal::PlotsFor;
using report_internal::PrimitiveCostsTable;

namespace {

namespace fs = std::filesystem;

// The metrics a report's History section follows: throughput per class, or a micro-benchmark's
// time per operation; at most four, to keep the report cheap.
std::vector<std::string> HistoryMetricsOf(const ExperimentData& d) {
  std::vector<std::string> keys;
  for (const auto& cls : ClassesOf(d)) keys.push_back(ClassMetricKey("throughput_rps", cls));
  for (const auto& b : BenchmarksOf(d)) keys.push_back(BenchmarkMetricKey("time_per_op_ns", b));
  if (keys.size() > 4) keys.resize(4);
  return keys;
}

nlohmann::json RunJson(const RunRecord& r) {
  nlohmann::json j;
  j["experiment"] = r.run.experiment();
  j["run_id"] = r.run.run_id();
  j["order"] = r.run.order();
  j["repetition"] = r.run.repetition();
  j["status"] = RunStatusName(r.run.status());
  j["error"] = r.run.error();
  j["campaign"] = r.run.campaign();
  j["attempts"] = nlohmann::json::array();
  for (const auto& a : r.run.attempts()) {
    j["attempts"].push_back({{"attempt", a.attempt()},
                             {"status", RunStatusName(a.status())},
                             {"reason", a.reason()},
                             {"infrastructure", a.infrastructure()}});
  }
  j["factors"] = nlohmann::json::object();
  for (const auto& [k, v] : r.run.factors()) j["factors"][k] = v;
  j["tags"] = nlohmann::json::object();
  for (const auto& [k, v] : r.run.tags()) j["tags"][k] = v;
  j["metrics"] = nlohmann::json::object();
  for (const auto& [k, v] : r.metrics) j["metrics"][k] = v;
  if (!r.benchmarks.empty()) {
    j["benchmarks"] = nlohmann::json::array();
    for (const auto& b : r.benchmarks) {
      nlohmann::json e = {{"name", b.name()},
                          {"run_name", b.run_name()},
                          {"aggregate_name", b.aggregate_name()},
                          {"repetition_index", b.repetition_index()},
                          {"iterations", b.iterations()},
                          {"real_time_ns", b.real_time_ns()},
                          {"cpu_time_ns", b.cpu_time_ns()},
                          {"label", b.label()}};
      e["counters"] = nlohmann::json::object();
      for (const auto& [k, v] : b.counters()) e["counters"][k] = v;
      j["benchmarks"].push_back(std::move(e));
    }
  }
  j["hosts"] = nlohmann::json::object();
  for (const auto& [h, f] : r.hosts) {
    j["hosts"][h] = {{"hostname", f.hostname()},
                     {"kernel_release", f.kernel_release()},
                     {"cpu_model", f.cpu_model()},
                     {"cpu_count", f.cpu_count()}};
  }
  return j;
}

}  // namespace
absl::StatusOr<ReportFiles> WriteReport(ResultStore& store, const ReportOptions& options) {
  static const std::set<std::string> kFormats = {"md", "html", "csv", "json"};
  if (!kFormats.count(options.format)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--format ", options.format, ": expected md, html, csv or json"));
  }
  std::vector<std::string> names;
  if (options.experiment.empty()) {
    RCBENCH_ASSIGN_OR_RETURN(names, store.ListExperiments());
    if (names.empty()) return absl::NotFoundError("the results store holds no experiments");
  } else {
    names.push_back(options.experiment);
  }
  std::error_code ec;
  fs::create_directories(fs::path(options.out_dir) / "plots", ec);
  if (ec) return absl::InternalError("cannot create " + options.out_dir + ": " + ec.message());
  ReportFiles files;
  std::string md, html, csv;
  nlohmann::json json = nlohmann::json::array();
  for (const auto& name : names) {
    RCBENCH_ASSIGN_OR_RETURN(ExperimentData d, LoadExperiment(store, name, options.campaign));
    std::vector<std::pair<std::string, std::string>> plot_images;  // name -> png
    if (options.plots) {
      for (const PlotSpec& p : PlotsFor(d)) {
        PlotSpec named = p;
        named.name = absl::StrCat(d.name, "-", p.name);
        auto drawn =
            DrawPlot(d, named, (fs::path(options.out_dir) / "plots").string(), options.gnuplot);
        if (!drawn.ok()) {
          files.warnings.push_back(std::string(drawn.status().message()));
          continue;
        }
        files.plots.insert(files.plots.end(), drawn->begin(), drawn->end());
        plot_images.push_back({named.name, absl::StrCat("plots/", named.name)});
      }
    }
    int completed = 0, failed = 0;
    for (const auto& r : d.all) {
      completed += r.run.status() == rcbench::v1::RUN_STATUS_COMPLETED;
      failed += r.run.status() == rcbench::v1::RUN_STATUS_FAILED;
    }
    std::map<std::string, int> per_campaign;
    for (const auto& r : d.all) ++per_campaign[r.run.campaign()];
    std::vector<std::string> campaign_parts;
    for (const auto& [c, n] : per_campaign) {
      campaign_parts.push_back(absl::StrCat(c.empty() ? "(none)" : c, " (", n, " runs)"));
    }
    const std::string campaigns = absl::StrJoin(campaign_parts, ", ");
    std::string hosts;
    if (!d.all.empty()) {
      for (const auto& r : d.all) {
        if (r.hosts.empty()) continue;
        for (const auto& [h, f] : r.hosts) {
          absl::StrAppend(&hosts, "- ", h, ": ", f.hostname(), ", kernel ", f.kernel_release(),
                          ", ", f.cpu_count(), " CPUs (", f.cpu_model(), "), ",
                          rcbench::v1::CgroupMode_Name(f.cgroup_mode()), "\n");
        }
        break;
      }
    }
    auto class_rows = ClassTable(d);
    auto container_rows = ContainerTable(d, /*skip_idle=*/true);
    std::vector<std::string> idle = IdleContainers(d);
    const std::string idle_note =
        idle.empty()
            ? ""
            : absl::StrCat("Not shown, 0.000 cores in every run: ", absl::StrJoin(idle, ", "), ".");
    auto primitive_rows = PrimitiveCostsTable(d);
    const bool micro = d.spec ? d.spec->benchmark.has_value() : primitive_rows.size() > 1;
    std::string description = d.spec ? d.spec->description : "";
    absl::StrAppend(&md, "# ", d.name, "\n\n", description, description.empty() ? "" : "\n\n",
                    "Runs: ", d.all.size(), " (", completed, " completed, ", failed,
                    " failed); order seed ", d.seed, ".\n\nCampaigns: ", campaigns, ".\n\n",
                    hosts.empty() ? "" : "Hosts:\n", hosts, hosts.empty() ? "" : "\n");
    absl::StrAppend(&html, "<h1>", HtmlEscape(d.name), "</h1>\n<p>", HtmlEscape(description),
                    "</p>\n<p>Runs: ", d.all.size(), " (", completed, " completed, ", failed,
                    " failed); order seed ", d.seed, ".</p>\n<p>Campaigns: ", HtmlEscape(campaigns),
                    ".</p>\n<pre>", HtmlEscape(hosts), "</pre>\n");
    if (micro) {
      static constexpr char kPrimitiveNote[] =
          "Median over repetitions of each run's time per operation (wall and CPU); paper: "
          "Banga et al., OSDI '99, Table 1 (500 MHz Alpha); ratio = ours (wall) / paper's.";
      absl::StrAppend(&md, "## Primitive costs\n\n", kPrimitiveNote, "\n\n",
                      MarkdownTable(primitive_rows), "\n");
      absl::StrAppend(&html, "<h2>Primitive costs</h2>\n<p>", HtmlEscape(kPrimitiveNote), "</p>\n",
                      HtmlTable(primitive_rows));
    } else {
      absl::StrAppend(&md, "## Load classes (median over repetitions)\n\n",
                      MarkdownTable(class_rows), "\n## Containers\n\n",
                      MarkdownTable(container_rows), "\n", idle_note,
                      idle_note.empty() ? "" : "\n\n");
      absl::StrAppend(
          &html, "<h2>Load classes</h2>\n", HtmlTable(class_rows), "<h2>Containers</h2>\n",
          HtmlTable(container_rows),
          idle_note.empty() ? "" : absl::StrCat("<p>", HtmlEscape(idle_note), "</p>\n"));
    }
    if (!plot_images.empty()) {
      md += "## Plots\n\n";
      html += "<h2>Plots</h2>\n";
      for (const auto& [n, path] : plot_images) {
        absl::StrAppend(&md, "![", n, "](", path, ".png) ([SVG](", path, ".svg))\n\n");
        absl::StrAppend(&html, "<p><img src=\"", path, ".svg\" alt=\"", HtmlEscape(n), "\"></p>\n");
      }
    }
    // History by campaign, when the runs form at least two (controller/README.md, "History").
    std::string history_md, history_html;
    int history_plots = 0;
    for (const auto& key : HistoryMetricsOf(d)) {
      HistoryOptions ho;
      ho.experiment = d.name;
      ho.metric = key;
      auto h = BuildHistory(d.all, ho);
      if (!h.ok() || h->points.size() < 2) continue;
      std::string changes;
      for (const auto& c : h->change_points.change_points) {
        absl::StrAppend(&changes, changes.empty() ? "" : "; ", h->points[c.index].label, ": ",
                        absl::StrFormat("%+.1f%% (p = %.2g)", c.relative_change * 100, c.p_value));
      }
      const std::string summary =
          absl::StrCat(key, ": ", h->points.size(),
                       " campaigns; change points: ", changes.empty() ? "none" : changes);
      absl::StrAppend(&history_md, "- ", summary, "\n");
      absl::StrAppend(&history_html, "<p>", HtmlEscape(summary), "</p>\n");
      if (!options.plots) continue;
      const std::string name = absl::StrCat(d.name, "-history-", ++history_plots);
      const std::string base = (fs::path(options.out_dir) / "plots" / name).string();
      absl::Status drawn = DrawHistoryPlot(*h, {base + ".png", base + ".svg"}, options.gnuplot);
      if (!drawn.ok()) {
        files.warnings.push_back(std::string(drawn.message()));
        continue;
      }
      files.plots.push_back(base + ".png");
      files.plots.push_back(base + ".svg");
      absl::StrAppend(&history_md, "\n  ![", key, "](plots/", name, ".png) ([SVG](plots/", name,
                      ".svg))\n\n");
      absl::StrAppend(&history_html, "<p><img src=\"plots/", name, ".svg\" alt=\"", HtmlEscape(key),
                      "\"></p>\n");
    }
    if (!history_md.empty()) {
      static constexpr char kHistoryNote[] =
          "Campaigns in order of their first run (`rcbench history --by campaign`); change "
          "points by E-divisive means over the campaigns' medians, tested by a t-test over their "
          "runs.";
      absl::StrAppend(&md, "## History\n\n", kHistoryNote, "\n\n", history_md, "\n");
      absl::StrAppend(&html, "<h2>History</h2>\n<p>", HtmlEscape(kHistoryNote), "</p>\n",
                      history_html);
    }
    md +=
        "## Runs\n\n| order | run | repetition | factors | status | attempts | error "
        "|\n|---|---|---|---|---|---|---|\n";
    std::string lost;  // attempts that did not count, and why
    for (const auto& r : d.all) {
      Combo combo(r.run.factors().begin(), r.run.factors().end());
      absl::StrAppend(&md, "| ", r.run.order(), " | ", r.run.run_id(), " | ", r.run.repetition(),
                      " | ", ComboText(combo), " | ", RunStatusName(r.run.status()), " | ",
                      r.run.attempts_size(), " | ",
                      absl::StrReplaceAll(r.run.error(), {{"|", "\\|"}, {"\n", " "}}), " |\n");
      for (const auto& a : r.run.attempts()) {
        if (a.status() == rcbench::v1::RUN_STATUS_COMPLETED ||
            a.status() == rcbench::v1::RUN_STATUS_RUNNING) {
          continue;
        }
        absl::StrAppend(&lost, "- ", r.run.run_id(), " attempt ", a.attempt(), ": ",
                        RunStatusName(a.status()),
                        a.infrastructure() ? " (infrastructure)" : " (system under test)", ": ",
                        absl::StrReplaceAll(a.reason(), {{"\n", " "}}), "\n");
      }
    }
    md += "\n";
    if (!lost.empty()) {
      absl::StrAppend(&md,
                      "## Attempts that did not complete\n\nOnly a completed attempt's "
                      "results are stored; these were redone or ended their run.\n\n",
                      lost, "\n");
    }
    for (const auto& r : d.all) {
      json.push_back(RunJson(r));
      for (const auto& [k, v] : r.metrics) {
        std::vector<std::string> fields = {d.name, r.run.run_id(),
                                           absl::StrCat(r.run.repetition())};
        Combo combo(r.run.factors().begin(), r.run.factors().end());
        fields.push_back(ComboText(combo));
        fields.push_back(RunStatusName(r.run.status()));
        fields.push_back(k);
        fields.push_back(absl::StrCat(v));
        for (auto& f : fields) f = CsvField(f);
        absl::StrAppend(&csv, absl::StrJoin(fields, ","), "\n");
      }
    }
  }
  std::string path;
  std::string content;
  if (options.format == "md") {
    path = "report.md";
    content = md;
  } else if (options.format == "html") {
    path = "report.html";
    content = absl::StrCat(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rcbench report</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style>"
        "</head><body>\n",
        html, "</body></html>\n");
  } else if (options.format == "csv") {
    path = "report.csv";
    content = "experiment,run_id,repetition,factors,status,metric,value\n" + csv;
  } else {
    path = "report.json";
    content = json.dump(2) + "\n";
  }
  files.report = (fs::path(options.out_dir) / path).string();
  std::ofstream out(files.report);
  out << content;
  if (!out) return absl::InternalError("cannot write " + files.report);
  return files;
}

}  // namespace rcbench::controller
