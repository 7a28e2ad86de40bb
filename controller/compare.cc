#include "controller/compare.h"

#include <cmath>
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

// What a run depends on besides the selectors' keys, as "kind:name=value" strings.
std::set<std::string> Context(const RunRecord& r, const std::set<std::string>& selected) {
  std::set<std::string> out;
  auto chosen = [&](const std::string& kind, const std::string& name) {
    return selected.count(name) || selected.count(kind + "." + name);
  };
  if (!selected.count("experiment")) out.insert("experiment=" + r.run.experiment());
  for (const auto& [k, v] : r.run.factors()) {
    if (!chosen("factor", k)) out.insert(absl::StrCat("factor ", k, "=", v));
  }
  for (const auto& [k, v] : r.run.tags()) {
    if (!chosen("tag", k)) out.insert(absl::StrCat("tag ", k, "=", v));
  }
  for (const auto& [h, f] : r.hosts) {
    for (const char* field : {"kernel_release", "kernel_version", "cpu_model", "cpu_count",
                              "os_release", "cgroup_mode", "rcbench_version", "hostname"}) {
      if (chosen("host", field)) continue;
      out.insert(absl::StrCat("host ", h, " ", field, "=", HostField(f, field).value_or("")));
    }
  }
  return out;
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

bool CompareReport::any_worse() const {
  for (const auto& m : metrics) {
    if (m.verdict == Verdict::kWorse) return true;
  }
  return false;
}

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
  // Warn about differences beyond what the selectors name.
  std::set<std::string> selected;
  for (const auto& t : base_sel) selected.insert(t.key);
  for (const auto& t : cand_sel) selected.insert(t.key);
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
  // Rules from the (baseline's) stored spec.
  std::map<std::string, MetricRule> rules;
  if (auto rec = store.GetExperiment(base.front()->run.experiment()); rec.ok() && *rec) {
    if (auto spec = ParseSpec((*rec)->spec_yaml, (*rec)->name); spec.ok()) {
      rules = spec->compare_rules;
    }
  }
  std::set<std::string> keys;
  for (const RunRecord* r : base) {
    for (const auto& [k, v] : r->metrics) keys.insert(k);
  }
  for (const auto& key : keys) {
    if (!options.metrics.empty() &&
        std::find(options.metrics.begin(), options.metrics.end(), key) == options.metrics.end() &&
        std::find(options.metrics.begin(), options.metrics.end(), MetricBaseName(key)) ==
            options.metrics.end()) {
      continue;
    }
    std::vector<double> b, c;
    for (const RunRecord* r : base) {
      if (auto it = r->metrics.find(key); it != r->metrics.end()) b.push_back(it->second);
    }
    for (const RunRecord* r : cand) {
      if (auto it = r->metrics.find(key); it != r->metrics.end()) c.push_back(it->second);
    }
    if (c.empty()) continue;
    std::string base_name = MetricBaseName(key);
    auto rule_it = rules.find(base_name);
    MetricRule rule = rule_it != rules.end() ? rule_it->second : DefaultRuleFor(base_name);
    report.metrics.push_back(CompareSamples(key, b, c, rule));
  }
  if (report.metrics.empty()) {
    return absl::NotFoundError("the two sides have no metric in common");
  }
  return report;
}

std::string FormatCompareText(const CompareReport& r) {
  std::string out =
      absl::StrFormat("baseline: %d runs, candidate: %d runs\n", r.baseline_runs, r.candidate_runs);
  for (const auto& w : r.warnings) absl::StrAppend(&out, "warning: ", w, "\n");
  std::vector<std::vector<std::string>> rows = {
      {"metric", "baseline", "candidate", "change", "95% CI", "p", "verdict"}};
  for (const auto& m : r.metrics) {
    std::string verdict = VerdictName(m.verdict);
    if (m.verdict == Verdict::kUnknown && m.more_repetitions > 0) {
      absl::StrAppend(&verdict, " (wants ~", m.more_repetitions, " more repetitions per side)");
    }
    rows.push_back({m.metric, absl::StrFormat("%.4g", m.median_baseline),
                    absl::StrFormat("%.4g", m.median_candidate), Pct(m.change),
                    absl::StrCat("[", Pct(m.change_ci.low), ", ", Pct(m.change_ci.high), "]"),
                    absl::StrFormat("%.3g", m.p_value), verdict});
  }
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&out, i ? "  " : "", row[i],
                      i + 1 < row.size() ? std::string(w[i] - row[i].size(), ' ') : "");
    }
    out += "\n";
  }
  int worse = 0, better = 0, unknown = 0;
  for (const auto& m : r.metrics) {
    worse += m.verdict == Verdict::kWorse;
    better += m.verdict == Verdict::kBetter;
    unknown += m.verdict == Verdict::kUnknown;
  }
  absl::StrAppend(
      &out, "overall: ", worse ? "WORSE" : (better ? "BETTER" : (unknown ? "UNKNOWN" : "SAME")),
      " (", worse, " worse, ", better, " better, ", unknown, " unknown, ",
      r.metrics.size() - worse - better - unknown, " same)\n");
  return out;
}

std::string FormatCompareJson(const CompareReport& r) {
  nlohmann::json j;
  j["baseline_runs"] = r.baseline_runs;
  j["candidate_runs"] = r.candidate_runs;
  j["warnings"] = r.warnings;
  j["metrics"] = nlohmann::json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  for (const auto& m : r.metrics) {
    j["metrics"].push_back({{"metric", m.metric},
                            {"n_baseline", m.n_baseline},
                            {"n_candidate", m.n_candidate},
                            {"median_baseline", num(m.median_baseline)},
                            {"median_candidate", num(m.median_candidate)},
                            {"change", num(m.change)},
                            {"ci_low", num(m.change_ci.low)},
                            {"ci_high", num(m.change_ci.high)},
                            {"p_value", num(m.p_value)},
                            {"verdict", VerdictName(m.verdict)},
                            {"more_repetitions", m.more_repetitions},
                            {"reason", m.reason}});
  }
  return j.dump(2) + "\n";
}

std::string FormatJunit(const CompareReport& r, const CompareOptions& options) {
  int failures = 0, skipped = 0;
  std::string cases;
  for (const auto& m : r.metrics) {
    absl::StrAppend(&cases, "    <testcase classname=\"rcbench.compare\" name=\"",
                    XmlEscape(m.metric), "\">");
    std::string detail = absl::StrFormat(
        "baseline median %.4g, candidate median %.4g, change %s, 95%% CI [%s, %s], p=%.3g: %s",
        m.median_baseline, m.median_candidate, Pct(m.change), Pct(m.change_ci.low),
        Pct(m.change_ci.high), m.p_value, m.reason);
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
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n",
                      "  <testsuite name=\"rcbench compare ", XmlEscape(options.baseline), " vs ",
                      XmlEscape(options.candidate), "\" tests=\"", r.metrics.size(),
                      "\" failures=\"", failures, "\" skipped=\"", skipped, "\" errors=\"0\">\n",
                      cases, "  </testsuite>\n</testsuites>\n");
}

}  // namespace rcbench::controller
