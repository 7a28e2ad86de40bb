#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/matrix.h"
#include "controller/spec_parser.h"

namespace rcbench::controller::spec_internal {

void SpecParser::CheckMatrixSize(const ExperimentSpec& spec) {
  const uint64_t runs = PlannedRunUpperBound(spec);
  if (runs <= limits_.max_planned_runs) return;
  matrix_too_large_ = true;
  Error(
      factors_pos_.line ? factors_pos_ : SourcePos{1, 1},
      absl::StrCat("the factor matrix plans ",
                   runs == UINT64_MAX ? "more than 2^64" : absl::StrCat(runs), " runs (",
                   DescribeMatrixSize(spec), "), more than the limit of ", limits_.max_planned_runs,
                   " (--max-planned-runs); expected fewer factor levels or repetitions"));
}

void SpecParser::ParseFactors(const YAML::Node& n, ExperimentSpec& spec) {
  factors_pos_ = Pos(n);
  if (!CheckMapping(n, "factors", "FACTOR: [level, level, ...]")) return;
  for (const auto& kv : n) {
    Factor f;
    f.name = kv.first.Scalar();
    f.pos = Pos(kv.first);
    if (!IsIdentifier(f.name, 32) || f.name.find('.') != std::string::npos) {
      Error(kv.first, absl::StrCat("factor name \"", f.name,
                                   "\" is invalid; expected [A-Za-z0-9_-], starting with a "
                                   "letter, up to 32"));
    }
    if (f.name == "server" || f.name == "run") {
      Error(kv.first, absl::StrCat("factor name \"", f.name,
                                   "\" is reserved for placeholders; expected another name"));
    }
    const YAML::Node& levels = kv.second;
    if (levels.IsScalar()) {
      f.levels.push_back(levels.Scalar());
    } else if (!levels.IsSequence() || levels.size() == 0) {
      Error(levels, absl::StrCat("factor \"", f.name,
                                 "\" has no levels; expected a non-empty list of values"));
    } else {
      std::set<std::string> seen;
      for (const auto& level : levels) {
        auto s = Scalar(level, absl::StrCat("a level of factor \"", f.name, "\""));
        if (!s) continue;
        if (!seen.insert(*s).second) repeated_levels_.push_back({f.name, *s, Pos(level)});
        f.levels.push_back(*s);
      }
    }
    factor_pos_[f.name] = f.pos;
    spec.factors.push_back(std::move(f));
  }
}

void SpecParser::ParseZip(const YAML::Node& n, ExperimentSpec& spec) {
  if (!CheckList(n, "zip", "a list of factor-name lists, e.g. [[a, b]]")) return;
  std::set<std::string> used;
  for (const auto& group : n) {
    std::vector<std::string> names = StringList(group, "a zip group");
    if (names.size() < 2) {
      Error(group, "a zip group has fewer than two factors; expected at least two");
      continue;
    }
    size_t expected_levels = 0;
    bool group_ok = true;
    for (const auto& name : names) {
      const Factor* f = spec.FindFactor(name);
      if (f == nullptr) {
        Error(group,
              absl::StrCat("zip names unknown factor \"", name, "\"; expected one of the factors"));
        group_ok = false;
        continue;
      }
      if (!used.insert(name).second) {
        Error(group, absl::StrCat("factor \"", name,
                                  "\" is in more than one zip group; expected at most one"));
      }
      if (expected_levels == 0) {
        expected_levels = f->levels.size();
      } else if (f->levels.size() != expected_levels) {
        group_ok = false;
        Error(group, absl::StrCat("zip group factors have different numbers of levels (\"", name,
                                  "\" has ", f->levels.size(), "); expected equal numbers"));
      }
    }
    if (group_ok) CheckZipRowsDistinct(group, names, spec);
    spec.zip_groups.push_back(std::move(names));
  }
}

void SpecParser::CheckZipRowsDistinct(const YAML::Node& group,
                                      const std::vector<std::string>& names,
                                      const ExperimentSpec& spec) {
  std::map<std::vector<std::string>, size_t> rows;
  size_t n = spec.FindFactor(names.front())->levels.size();
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> row;
    for (const auto& name : names) row.push_back(spec.FindFactor(name)->levels[i]);
    auto [it, inserted] = rows.emplace(row, i);
    if (!inserted) {
      Error(group,
            absl::StrCat("zip group rows ", it->second + 1, " and ", i + 1, " are identical (",
                         absl::StrJoin(row, ", "), "); expected distinct combinations"));
    }
  }
}

void SpecParser::CheckRepeatedLevels(const ExperimentSpec& spec) {
  std::set<std::string> zipped;
  for (const auto& group : spec.zip_groups) zipped.insert(group.begin(), group.end());
  for (const RepeatedLevel& r : repeated_levels_) {
    if (zipped.count(r.factor)) continue;
    Error(r.pos, absl::StrCat("level \"", r.level, "\" of factor \"", r.factor,
                              "\" is repeated; expected distinct levels (repeats are allowed only "
                              "in factors of a zip group)"));
  }
}

void SpecParser::ParseExclude(const YAML::Node& n, ExperimentSpec& spec) {
  if (!CheckList(n, "exclude", "a list of {factor: level, ...} mappings")) return;
  if (n.size() > limits_.max_exclude_rules) {
    Error(n, absl::StrCat("exclude has ", n.size(), " entries, more than the limit of ",
                          limits_.max_exclude_rules, "; expected fewer (use zip or fewer levels)"));
    return;
  }
  for (const auto& item : n) {
    if (!item.IsMap() || item.size() == 0) {
      Error(item, "an exclude entry is not a non-empty mapping; expected {factor: level, ...}");
      continue;
    }
    ExcludeRule rule;
    rule.pos = Pos(item);
    for (const auto& kv : item) {
      std::string factor = kv.first.Scalar();
      const Factor* f = spec.FindFactor(factor);
      if (f == nullptr) {
        Error(kv.first, absl::StrCat("exclude names unknown factor \"", factor,
                                     "\"; expected one of the factors"));
        continue;
      }
      auto level = Scalar(kv.second, "an exclude level");
      if (!level) continue;
      if (std::find(f->levels.begin(), f->levels.end(), *level) == f->levels.end()) {
        Error(kv.second,
              absl::StrCat("exclude names unknown level \"", *level, "\" of factor \"", factor,
                           "\"; expected one of ", absl::StrJoin(f->levels, ", ")));
        continue;
      }
      rule.when[factor] = *level;
    }
    spec.excludes.push_back(std::move(rule));
  }
}

}  // namespace rcbench::controller::spec_internal
