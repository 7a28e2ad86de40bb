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
#include "controller/paper_figures.h"
#include "controller/spec.h"
#include "controller/stats.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

namespace fs = std::filesystem;

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

absl::StatusOr<ExperimentData> LoadExperiment(ResultStore& store, const std::string& name,
                                              const std::string& campaign = "") {
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

std::string Fmt(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::abs(v) >= 100) return absl::StrFormat("%.0f", v);
  if (std::abs(v) >= 1) return absl::StrFormat("%.2f", v);
  return absl::StrFormat("%.3f", v);
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

std::set<std::string> ContainersOf(const ExperimentData& d) {
  std::set<std::string> out;
  for (const auto& [combo, metrics] : d.cells) {
    for (const auto& [k, agg] : metrics) {
      if (MetricBaseName(k) == "cpu_cores") {
        size_t eq = k.find("container=");
        out.insert(k.substr(eq + 10, k.size() - eq - 11));
      }
    }
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
std::vector<std::vector<std::string>> ContainerTable(const ExperimentData& d,
                                                     bool skip_idle = false) {
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
  std::set<std::string> seen;
  for (const auto& [combo, metrics] : d.cells) {
    for (const auto& [k, agg] : metrics) {
      if (MetricBaseName(k) == "time_per_op_ns") {
        size_t eq = k.find("benchmark=");
        seen.insert(k.substr(eq + 10, k.size() - eq - 11));
      }
    }
  }
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

std::string TextTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  }
  std::string out;
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    for (size_t i = 0; i < rows[ri].size(); ++i) {
      absl::StrAppend(&out, i ? "  " : "", rows[ri][i],
                      std::string(width[i] - rows[ri][i].size(), ' '));
    }
    out += "\n";
  }
  return out;
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

std::string GnuplotQuote(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "''"}}) + "'";
}

int RunCommand(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Draws one plot; returns the files written.
absl::StatusOr<std::vector<std::string>> DrawPlot(const ExperimentData& d, const PlotSpec& p,
                                                  const std::string& plot_dir,
                                                  const std::string& gnuplot) {
  const ExperimentSpec& spec = *d.spec;
  const Factor* xf = spec.FindFactor(p.x);
  if (xf == nullptr) return absl::InvalidArgumentError("plot x is not a factor");
  std::string key = !p.class_name.empty() ? ClassMetricKey(p.y, p.class_name)
                                          : ContainerMetricKey(p.y, p.container);
  bool numeric_x = true;
  for (const auto& l : xf->levels) {
    double v;
    numeric_x &= absl::SimpleAtod(l, &v);
  }
  std::vector<std::string> series_levels = {""};
  if (!p.series.empty()) {
    if (const Factor* sf = spec.FindFactor(p.series)) series_levels = sf->levels;
  }
  // Pool repetitions (and any other factors) per (series level, x level).
  std::string data;
  int blocks = 0;
  std::vector<std::string> titles;
  for (const auto& sl : series_levels) {
    std::string block;
    for (size_t xi = 0; xi < xf->levels.size(); ++xi) {
      Agg agg;
      for (const auto& [combo, metrics] : d.cells) {
        auto cx = combo.find(p.x);
        if (cx == combo.end() || cx->second != xf->levels[xi]) continue;
        if (!p.series.empty()) {
          auto cs = combo.find(p.series);
          if (cs == combo.end() || cs->second != sl) continue;
        }
        auto mi = metrics.find(key);
        if (mi == metrics.end()) continue;
        agg.values.insert(agg.values.end(), mi->second.values.begin(), mi->second.values.end());
      }
      if (agg.values.empty()) continue;
      absl::StrAppend(&block, numeric_x ? xf->levels[xi] : absl::StrCat(xi), " \"", xf->levels[xi],
                      "\" ", agg.Mean(), " ", agg.Stdev(), "\n");
    }
    if (block.empty()) continue;
    absl::StrAppend(&data, blocks ? "\n\n" : "", block);
    titles.push_back(p.series.empty() ? p.y : absl::StrCat(p.series, "=", sl));
    ++blocks;
  }
  if (blocks == 0) {
    return absl::NotFoundError(absl::StrCat("plot ", p.name, ": no completed runs with ", key));
  }
  std::string base = (fs::path(plot_dir) / p.name).string();
  {
    std::ofstream out(base + ".dat");
    out << data;
  }
  std::string title = p.title.empty() ? absl::StrCat(d.name, ": ", key) : p.title;
  std::string script;
  absl::StrAppend(&script, "set title ", GnuplotQuote(title), " noenhanced\n", "set xlabel ",
                  GnuplotQuote(p.x), " noenhanced\n", "set ylabel ", GnuplotQuote(key),
                  " noenhanced\n", "set key outside right noenhanced\n",
                  "set grid\nset yrange [0:*]\n", p.logscale_y ? "set logscale y\n" : "",
                  numeric_x ? "set offsets graph 0.05, graph 0.05, 0, 0\n"
                            : "set xtics rotate by -30\nset offsets 0.5, 0.5, 0, 0\n");
  std::string plot_cmd = "plot ";
  for (int b = 0; b < blocks; ++b) {
    absl::StrAppend(&plot_cmd, b ? ", " : "", GnuplotQuote(base + ".dat"), " index ", b,
                    numeric_x ? " using 1:3:4" : " using 1:3:4:xtic(2)",
                    " with yerrorlines lw 2 pt 7 title ", GnuplotQuote(titles[b]));
  }
  absl::StrAppend(&script, "set terminal pngcairo size 900,540\nset output ",
                  GnuplotQuote(base + ".png"), "\n", plot_cmd, "\n",
                  "set terminal svg size 900,540 dynamic\nset output ", GnuplotQuote(base + ".svg"),
                  "\n", plot_cmd, "\nset output\n");
  {
    std::ofstream out(base + ".gp");
    out << script;
  }
  int rc = RunCommand({gnuplot, base + ".gp"});
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("gnuplot failed (exit ", rc, ") for ", base, ".gp; is gnuplot installed?"));
  }
  return std::vector<std::string>{base + ".png", base + ".svg"};
}

// A gnuplot data field: labels are quoted, so a double quote in one would end it early.
std::string DataLabel(const std::string& s) {
  return "\"" + absl::StrReplaceAll(s, {{"\"", "'"}}) + "\"";
}

// The metrics a report's History section follows: throughput per class, or a micro-benchmark's
// time per operation; at most four, to keep the report cheap.
std::vector<std::string> HistoryMetricsOf(const ExperimentData& d) {
  std::vector<std::string> keys;
  for (const auto& cls : ClassesOf(d)) keys.push_back(ClassMetricKey("throughput_rps", cls));
  for (const auto& b : BenchmarksOf(d)) keys.push_back(BenchmarkMetricKey("time_per_op_ns", b));
  if (keys.size() > 4) keys.resize(4);
  return keys;
}

// Plots the spec asks for, or a default: throughput per class over the first factor.
std::vector<PlotSpec> PlotsFor(const ExperimentData& d) {
  if (!d.spec) return {};
  if (!d.spec->plots.empty()) return d.spec->plots;
  std::vector<PlotSpec> out;
  if (d.spec->factors.empty()) return out;
  for (const auto& cls : ClassesOf(d)) {
    PlotSpec p;
    p.name = absl::StrCat("throughput_", cls);
    p.x = d.spec->factors[0].name;
    if (d.spec->factors.size() > 1) p.series = d.spec->factors[1].name;
    p.y = "throughput_rps";
    p.class_name = cls;
    out.push_back(p);
  }
  return out;
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

absl::Status DrawHistoryPlot(const History& h, const std::vector<std::string>& files,
                             const std::string& gnuplot) {
  if (files.empty()) return absl::InvalidArgumentError("no plot file named");
  std::vector<std::string> terminals;
  for (const auto& f : files) {
    const std::string ext = fs::path(f).extension().string();
    if (ext == ".svg") {
      terminals.push_back("svg size 900,560 dynamic");
    } else if (ext == ".png") {
      terminals.push_back("pngcairo size 900,560");
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("plot file ", f, ": expected a name ending in .svg or .png"));
    }
  }
  const std::string base = files.front();
  const bool label_ticks = h.points.size() <= 20;
  {
    std::ofstream out(base + ".dat");
    for (size_t i = 0; i < h.points.size(); ++i) {
      const HistoryPoint& p = h.points[i];
      out << i << " " << DataLabel(p.label) << " " << p.median << " " << p.interval.low << " "
          << p.interval.high << "\n";
    }
    if (!out) return absl::InternalError("cannot write " + base + ".dat");
  }
  const ChangePointOptions& cpo = h.change_points.options;
  std::string script;
  absl::StrAppend(&script, "set title ",
                  GnuplotQuote(absl::StrCat(h.options.experiment, ": ", h.metric_key, " by ",
                                            HistoryGroupingName(h.options.by))),
                  " noenhanced\n", "set ylabel ", GnuplotQuote(h.metric_key), " noenhanced\n",
                  "set xlabel ", GnuplotQuote(HistoryGroupingName(h.options.by)), " noenhanced\n",
                  "set grid\nset key top left noenhanced\nset bmargin 7\n",
                  "set offsets 0.5, 0.5, graph 0.1, graph 0.1\n",
                  label_ticks ? "set xtics rotate by -30\n" : "", "set label 100 ",
                  GnuplotQuote(absl::StrCat(
                      "median per point, error bars: 95% order-statistic interval; change points: ",
                      kChangePointAlgorithm, " over the ", HistorySeriesName(cpo), ", p <= ",
                      cpo.max_p_value, " (search-corrected), min segment ", cpo.min_segment)),
                  " at screen 0.01, screen 0.02 noenhanced font ',9'\n");
  int n = 1;
  for (const auto& c : h.change_points.change_points) {
    const double x = static_cast<double>(c.index) - 0.5;
    absl::StrAppend(
        &script, "set arrow ", n, " from ", x, ", graph 0 to ", x,
        ", graph 1 nohead dt 2 lw 2 lc rgb '#cc0000'\n", "set label ", n, " ",
        GnuplotQuote(absl::StrFormat("%+.1f%% (p=%.2g)", c.relative_change * 100, c.p_value)),
        " at ", x, ", graph 0.95 offset 0.5, 0 textcolor rgb '#cc0000' noenhanced\n");
    ++n;
  }
  const std::string plot_cmd =
      absl::StrCat("plot ", GnuplotQuote(base + ".dat"),
                   label_ticks ? " using 1:3:4:5:xtic(2)" : " using 1:3:4:5",
                   " with yerrorbars pt 7 lw 1.5 title 'median, 95% interval', ",
                   GnuplotQuote(base + ".dat"), " using 1:3 with lines lw 1 notitle\n");
  for (size_t i = 0; i < files.size(); ++i) {
    absl::StrAppend(&script, "set terminal ", terminals[i], "\nset output ", GnuplotQuote(files[i]),
                    "\n", plot_cmd);
  }
  script += "set output\n";
  {
    std::ofstream out(base + ".gp");
    out << script;
    if (!out) return absl::InternalError("cannot write " + base + ".gp");
  }
  int rc = RunCommand({gnuplot, base + ".gp"});
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("gnuplot failed (exit ", rc, ") for ", base, ".gp; is gnuplot installed?"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResultsTable(ResultStore& store, const std::string& experiment,
                                         const std::string& campaign) {
  RCBENCH_ASSIGN_OR_RETURN(ExperimentData d, LoadExperiment(store, experiment, campaign));
  auto primitives = PrimitiveCostsTable(d);
  if (primitives.size() > 1) return TextTable(primitives);
  if (d.spec && d.spec->benchmark) return std::string("(no completed runs)\n");
  std::string out = TextTable(ClassTable(d));
  auto containers = ContainerTable(d, /*skip_idle=*/true);
  if (containers.size() > 1) out += "\n" + TextTable(containers);
  return out;
}

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
