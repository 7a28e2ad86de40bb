#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "controller/analysis.h"
#include "controller/report_data.h"

namespace rcbench::controller {

namespace fs = std::filesystem;

namespace report_internal {
namespace {

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

// A gnuplot data field: labels are quoted, so a double quote in one would end it early.
std::string DataLabel(const std::string& s) {
  return "\"" + absl::StrReplaceAll(s, {{"\"", "'"}}) + "\"";
}

}  // namespace

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

}  // namespace report_internal

using report_internal::DataLabel;
using report_internal::GnuplotQuote;
using report_internal::RunCommand;

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

}  // namespace rcbench::controller
