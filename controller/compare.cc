#include "controller/compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "controller/spec.h"
#include "controller/text_table.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

std::optional<std::string> HostField(const rcbench::v1::HostFacts& f, const std::string& field) {
  if (field == "hostname") return f.hostname();
  if (field == "kernel_release") return f.kernel_release();
  if (field == "kernel_version") return f.kernel_version();
  if (field == "cpu_model") return f.cpu_model();
  if (field == "cpu_count") return absl::StrCat(f.cpu_count());
  if (field == "os_release") return f.os_release();
  if (field == "rcbench_version") return f.rcbench_version();
  if (field == "cgroup_mode") return rcbench::v1::CgroupMode_Name(f.cgroup_mode());
  if (absl::StartsWith(field, "sysctl.")) {
    auto it = f.sysctls().find(field.substr(7));
    if (it != f.sysctls().end()) return it->second;
  }
  return std::nullopt;
}

bool TermHolds(const RunRecord& r, const SelectorTerm& t) {
  const std::string& k = t.key;
  if (k == "experiment") return r.run.experiment() == t.value;
  if (k == "campaign") return r.run.campaign() == t.value;
  if (absl::StartsWith(k, "factor.")) {
    auto it = r.run.factors().find(k.substr(7));
    return it != r.run.factors().end() && it->second == t.value;
  }
  if (absl::StartsWith(k, "tag.")) {
    auto it = r.run.tags().find(k.substr(4));
    return it != r.run.tags().end() && it->second == t.value;
  }
  std::string field = absl::StartsWith(k, "host.") ? k.substr(5) : k;
  if (!absl::StartsWith(k, "host.")) {
    if (auto it = r.run.factors().find(k); it != r.run.factors().end()) {
      return it->second == t.value;
    }
    if (auto it = r.run.tags().find(k); it != r.run.tags().end()) return it->second == t.value;
  }
  for (const auto& [h, facts] : r.hosts) {
    auto v = HostField(facts, field);
    if (v && *v == t.value) return true;
  }
  return false;
}

// Whether the selectors name `name` of `kind` ("factor", "tag", "host"): "kind.name" or, for
// a bare key, just the name.
bool Chosen(const std::set<std::string>& selected, const std::string& kind,
            const std::string& name) {
  return selected.count(name) || selected.count(kind + "." + name);
}

// What a run depends on besides its cell and the selectors' keys, as "kind name=value"
// strings: tags and host facts.
std::set<std::string> Context(const RunRecord& r, const std::set<std::string>& selected) {
  std::set<std::string> out;
  for (const auto& [k, v] : r.run.tags()) {
    if (!Chosen(selected, "tag", k)) out.insert(absl::StrCat("tag ", k, "=", v));
  }
  for (const auto& [h, f] : r.hosts) {
    for (const char* field : {"kernel_release", "kernel_version", "cpu_model", "cpu_count",
                              "os_release", "cgroup_mode", "rcbench_version", "hostname"}) {
      if (Chosen(selected, "host", field)) continue;
      out.insert(absl::StrCat("host ", h, " ", field, "=", HostField(f, field).value_or("")));
    }
  }
  return out;
}

// The cell of a run: the factors the selectors do not name, and the experiment when the
// compared runs span several and the selectors do not name it.
std::map<std::string, std::string> CellLevels(const RunRecord& r,
                                              const std::set<std::string>& selected,
                                              bool by_experiment) {
  std::map<std::string, std::string> levels;
  if (by_experiment) levels["experiment"] = r.run.experiment();
  for (const auto& [k, v] : r.run.factors()) {
    if (!Chosen(selected, "factor", k)) levels[k] = v;
  }
  return levels;
}

std::string CellLabel(const std::map<std::string, std::string>& levels) {
  if (levels.empty()) return "(all)";
  return absl::StrJoin(levels, ",", absl::PairFormatter("="));
}

std::string Pct(double v) {
  if (!std::isfinite(v)) return "n/a";
  return absl::StrFormat("%+.1f%%", v * 100);
}

std::string XmlEscape(const std::string& s) {
  return absl::StrReplaceAll(
      s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&apos;"}});
}

}  // namespace

absl::StatusOr<std::vector<SelectorTerm>> ParseSelector(absl::string_view text) {
  std::vector<SelectorTerm> out;
  for (absl::string_view term : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    term = absl::StripAsciiWhitespace(term);
    size_t eq = term.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("selector term \"", term,
                       "\": expected KEY=VALUE (e.g. kernel_release=6.1.0-18-amd64, "
                       "factor.containers=on, tag.build=patched)"));
    }
    out.push_back({std::string(absl::StripAsciiWhitespace(term.substr(0, eq))),
                   std::string(absl::StripAsciiWhitespace(term.substr(eq + 1)))});
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("empty selector: expected KEY=VALUE[,KEY=VALUE...]");
  }
  return out;
}

bool Matches(const RunRecord& run, const std::vector<SelectorTerm>& selector) {
  for (const auto& t : selector) {
    if (!TermHolds(run, t)) return false;
  }
  return true;
}

Verdict CompareReport::overall() const {
  std::vector<Verdict> verdicts;
  for (const auto& m : metrics) verdicts.push_back(m.verdict);
  return CombineVerdicts(verdicts);
}

bool CompareReport::any_worse() const { return overall() == Verdict::kWorse; }

absl::StatusOr<CompareReport> Compare(ResultStore& store, const CompareOptions& options) {
  RCBENCH_ASSIGN_OR_RETURN(auto base_sel, ParseSelector(options.baseline));
  RCBENCH_ASSIGN_OR_RETURN(auto cand_sel, ParseSelector(options.candidate));
  RCBENCH_ASSIGN_OR_RETURN(auto runs, LoadRunRecords(store, options.experiment, true));
  std::vector<const RunRecord*> base, cand;
  for (const auto& r : runs) {
    bool b = Matches(r, base_sel), c = Matches(r, cand_sel);
    if (b && c) {
      return absl::InvalidArgumentError(
          absl::StrCat("run ", r.run.run_id(), " matches both selectors; expected disjoint sides"));
    }
    if (b) base.push_back(&r);
    if (c) cand.push_back(&r);
  }
  if (base.empty() || cand.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no completed runs match the ", base.empty() ? "baseline" : "candidate",
                     " selector \"", base.empty() ? options.baseline : options.candidate, "\""));
  }
  CompareReport report;
  report.baseline_runs = base.size();
  report.candidate_runs = cand.size();
  std::set<std::string> selected;
  for (const auto& t : base_sel) selected.insert(t.key);
  for (const auto& t : cand_sel) selected.insert(t.key);

  // Cells, sorted by their levels.
  std::set<std::string> experiments;
  for (const auto* side : {&base, &cand}) {
    for (const RunRecord* r : *side) experiments.insert(r->run.experiment());
  }
  const bool by_experiment = experiments.size() > 1 && !selected.count("experiment");
  using Side = std::vector<const RunRecord*>;
  std::map<std::map<std::string, std::string>, std::pair<Side, Side>> by_cell;
  for (const RunRecord* r : base)
    by_cell[CellLevels(*r, selected, by_experiment)].first.push_back(r);
  for (const RunRecord* r : cand)
    by_cell[CellLevels(*r, selected, by_experiment)].second.push_back(r);
  std::vector<Side> cell_base, cell_cand;
  for (auto& [levels, sides] : by_cell) {
    report.cells.push_back({CellLabel(levels), levels, sides.first.size(), sides.second.size()});
    cell_base.push_back(std::move(sides.first));
    cell_cand.push_back(std::move(sides.second));
  }

  // Warn about differences beyond the cells and what the selectors name.
  std::set<std::string> base_ctx, cand_ctx;
  for (const RunRecord* r : base) {
    auto c = Context(*r, selected);
    base_ctx.insert(c.begin(), c.end());
  }
  for (const RunRecord* r : cand) {
    auto c = Context(*r, selected);
    cand_ctx.insert(c.begin(), c.end());
  }
  for (const auto& item : base_ctx) {
    if (!cand_ctx.count(item) && !absl::StrContains(item, "hostname=")) {
      report.warnings.push_back(absl::StrCat("only the baseline has ", item));
    }
  }
  for (const auto& item : cand_ctx) {
    if (!base_ctx.count(item) && !absl::StrContains(item, "hostname=")) {
      report.warnings.push_back(absl::StrCat("only the candidate has ", item));
    }
  }
  bool any_shared = false;
  for (const auto& cell : report.cells) {
    any_shared |= cell.baseline_runs > 0 && cell.candidate_runs > 0;
  }
  if (!any_shared) {
    report.warnings.push_back(
        "no cell has runs on both sides: the sides differ in factor levels the selectors do "
        "not name (name the factor in both selectors to compare across it)");
  }

  // Rules from the (baseline's) stored spec.
  std::map<std::string, MetricRule> rules;
  if (auto rec = store.GetExperiment(base.front()->run.experiment()); rec.ok() && *rec) {
    if (auto spec = ParseSpec((*rec)->spec_yaml, (*rec)->name); spec.ok()) {
      rules = spec->compare_rules;
    }
  }
  std::set<std::string> base_keys, cand_keys;
  for (const RunRecord* r : base) {
    for (const auto& [k, v] : r->metrics) base_keys.insert(k);
  }
  for (const RunRecord* r : cand) {
    for (const auto& [k, v] : r->metrics) cand_keys.insert(k);
  }
  auto values = [](const std::vector<const RunRecord*>& runs, const std::string& key) {
    std::vector<double> out;
    for (const RunRecord* r : runs) {
      if (auto it = r->metrics.find(key); it != r->metrics.end()) out.push_back(it->second);
    }
    return out;
  };
  for (const auto& key : base_keys) {
    if (!cand_keys.count(key)) continue;
    if (!options.metrics.empty() &&
        std::find(options.metrics.begin(), options.metrics.end(), key) == options.metrics.end() &&
        std::find(options.metrics.begin(), options.metrics.end(), MetricBaseName(key)) ==
            options.metrics.end()) {
      continue;
    }
    std::string base_name = MetricBaseName(key);
    auto rule_it = rules.find(base_name);
    MetricRule rule = rule_it != rules.end() ? rule_it->second : DefaultRuleFor(base_name);
    MetricReport metric;
    metric.metric = key;
    std::vector<size_t> cell_of;
    for (size_t i = 0; i < report.cells.size(); ++i) {
      std::vector<double> b = values(cell_base[i], key), c = values(cell_cand[i], key);
      if (b.empty() && c.empty()) continue;
      metric.cells.push_back(MeasureSamples(key, b, c));
      metric.cell_labels.push_back(report.cells[i].label);
      cell_of.push_back(i);
    }
    DecideFamily(rule, metric.cells);
    std::vector<Verdict> verdicts;
    for (size_t j = 0; j < metric.cells.size(); ++j) {
      const CompareCell& cell = report.cells[cell_of[j]];
      if (cell.baseline_runs == 0 || cell.candidate_runs == 0) {
        metric.cells[j].reason =
            absl::StrCat("only the ", cell.baseline_runs ? "baseline" : "candidate",
                         " has runs with these factor levels");
      }
      verdicts.push_back(metric.cells[j].verdict);
    }
    metric.verdict = CombineVerdicts(verdicts);
    report.metrics.push_back(std::move(metric));
  }
  if (report.metrics.empty()) {
    return absl::NotFoundError("the two sides have no metric in common");
  }
  return report;
}

namespace {

std::string VerdictCounts(const std::vector<Verdict>& verdicts, const std::string& of) {
  auto count = [&](Verdict v) { return std::count(verdicts.begin(), verdicts.end(), v); };
  return absl::StrCat(VerdictName(CombineVerdicts(verdicts)), " (", count(Verdict::kWorse),
                      " worse, ", count(Verdict::kBetter), " better, ", count(Verdict::kUnknown),
                      " unknown, ", count(Verdict::kSame), " same of ", verdicts.size(), " ", of,
                      ")");
}

std::string PValue(double p) { return std::isfinite(p) ? absl::StrFormat("%.3g", p) : "n/a"; }

}  // namespace

std::string FormatCompareText(const CompareReport& r) {
  const bool split = r.cells.size() > 1;
  std::string out =
      absl::StrFormat("baseline: %d runs, candidate: %d runs, %d cell%s\n", r.baseline_runs,
                      r.candidate_runs, r.cells.size(), split ? "s" : "");
  if (split) {
    for (const auto& c : r.cells) {
      absl::StrAppend(&out, "cell ", c.label, ": ", c.baseline_runs, " vs ", c.candidate_runs,
                      " runs\n");
    }
  }
  for (const auto& w : r.warnings) absl::StrAppend(&out, "warning: ", w, "\n");
  std::vector<std::string> header = {"metric"};
  if (split) header.push_back("cell");
  for (const char* h : {"baseline", "candidate", "change", "95% CI", "p"}) header.push_back(h);
  if (split) header.push_back("p (Holm)");
  header.push_back("verdict");
  std::vector<std::vector<std::string>> rows = {header};
  for (const auto& metric : r.metrics) {
    for (size_t i = 0; i < metric.cells.size(); ++i) {
      const MetricComparison& m = metric.cells[i];
      std::string verdict = VerdictName(m.verdict);
      if (m.verdict == Verdict::kUnknown && m.more_repetitions > 0) {
        absl::StrAppend(&verdict, " (wants ~", m.more_repetitions, " more repetitions per side)");
      }
      std::vector<std::string> row = {m.metric};
      if (split) row.push_back(metric.cell_labels[i]);
      row.push_back(absl::StrFormat("%.4g", m.median_baseline));
      row.push_back(absl::StrFormat("%.4g", m.median_candidate));
      row.push_back(Pct(m.change));
      row.push_back(absl::StrCat("[", Pct(m.change_ci.low), ", ", Pct(m.change_ci.high), "]"));
      row.push_back(PValue(m.p_value));
      if (split) row.push_back(PValue(m.p_adjusted));
      row.push_back(verdict);
      rows.push_back(std::move(row));
    }
  }
  out += TextTable(rows);
  std::vector<Verdict> metric_verdicts;
  for (const auto& metric : r.metrics) {
    metric_verdicts.push_back(metric.verdict);
    if (!split) continue;
    std::vector<Verdict> cells;
    for (const auto& m : metric.cells) cells.push_back(m.verdict);
    absl::StrAppend(&out, metric.metric, ": ", VerdictCounts(cells, "cells"), "\n");
  }
  absl::StrAppend(&out, "overall: ", VerdictCounts(metric_verdicts, "metrics"), "\n");
  return out;
}

std::string FormatCompareJson(const CompareReport& r) {
  nlohmann::json j;
  j["baseline_runs"] = r.baseline_runs;
  j["candidate_runs"] = r.candidate_runs;
  j["overall"] = VerdictName(r.overall());
  j["alpha"] = kAlpha;
  j["warnings"] = r.warnings;
  j["cells"] = nlohmann::json::array();
  for (const auto& c : r.cells) {
    j["cells"].push_back({{"cell", c.label},
                          {"levels", c.levels},
                          {"baseline_runs", c.baseline_runs},
                          {"candidate_runs", c.candidate_runs}});
  }
  j["metrics"] = nlohmann::json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  for (const auto& metric : r.metrics) {
    nlohmann::json cells = nlohmann::json::array();
    for (size_t i = 0; i < metric.cells.size(); ++i) {
      const MetricComparison& m = metric.cells[i];
      cells.push_back({{"cell", metric.cell_labels[i]},
                       {"n_baseline", m.n_baseline},
                       {"n_candidate", m.n_candidate},
                       {"median_baseline", num(m.median_baseline)},
                       {"median_candidate", num(m.median_candidate)},
                       {"change", num(m.change)},
                       {"ci_low", num(m.change_ci.low)},
                       {"ci_high", num(m.change_ci.high)},
                       {"p_value", num(m.p_value)},
                       {"p_adjusted", num(m.p_adjusted)},
                       {"verdict", VerdictName(m.verdict)},
                       {"more_repetitions", m.more_repetitions},
                       {"reason", m.reason}});
    }
    j["metrics"].push_back(
        {{"metric", metric.metric}, {"verdict", VerdictName(metric.verdict)}, {"cells", cells}});
  }
  return j.dump(2) + "\n";
}

std::string FormatJunit(const CompareReport& r, const CompareOptions& options) {
  int failures = 0, skipped = 0, tests = 0;
  std::string cases;
  for (const auto& metric : r.metrics) {
    for (size_t i = 0; i < metric.cells.size(); ++i) {
      const MetricComparison& m = metric.cells[i];
      ++tests;
      std::string name =
          r.cells.size() > 1 ? absl::StrCat(m.metric, " [", metric.cell_labels[i], "]") : m.metric;
      absl::StrAppend(&cases, "    <testcase classname=\"rcbench.compare\" name=\"",
                      XmlEscape(name), "\">");
      std::string detail = absl::StrFormat(
          "baseline median %.4g (n=%d), candidate median %.4g (n=%d), change %s, 95%% CI [%s, "
          "%s], p=%s, Holm-adjusted p=%s: %s",
          m.median_baseline, m.n_baseline, m.median_candidate, m.n_candidate, Pct(m.change),
          Pct(m.change_ci.low), Pct(m.change_ci.high), PValue(m.p_value), PValue(m.p_adjusted),
          m.reason);
      if (m.verdict == Verdict::kWorse) {
        ++failures;
        absl::StrAppend(&cases, "<failure message=\"WORSE\">", XmlEscape(detail), "</failure>");
      } else if (m.verdict == Verdict::kUnknown) {
        ++skipped;
        absl::StrAppend(&cases, "<skipped message=\"UNKNOWN: ", XmlEscape(detail), "\"/>");
      } else {
        absl::StrAppend(&cases, "<system-out>", VerdictName(m.verdict), ": ", XmlEscape(detail),
                        "</system-out>");
      }
      cases += "</testcase>\n";
    }
  }
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n",
                      "  <testsuite name=\"rcbench compare ", XmlEscape(options.baseline), " vs ",
                      XmlEscape(options.candidate), "\" tests=\"", tests, "\" failures=\"",
                      failures, "\" skipped=\"", skipped, "\" errors=\"0\">\n", cases,
                      "  </testsuite>\n</testsuites>\n");
}

}  // namespace rcbench::controller
