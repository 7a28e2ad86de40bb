#include "controller/matrix.h"

#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace rcbench::controller {
namespace {

// One axis of the product: the factors that advance together and their level tuples.
struct Axis {
  std::vector<std::string> factors;
  std::vector<std::vector<std::string>> tuples;
};

std::vector<Axis> BuildAxes(const ExperimentSpec& spec) {
  std::map<std::string, size_t> group_of;
  for (size_t g = 0; g < spec.zip_groups.size(); ++g) {
    for (const auto& f : spec.zip_groups[g]) group_of[f] = g;
  }
  std::vector<Axis> axes;
  std::set<size_t> done_groups;
  for (const Factor& factor : spec.factors) {
    auto it = group_of.find(factor.name);
    if (it == group_of.end()) {
      Axis axis;
      axis.factors = {factor.name};
      for (const auto& level : factor.levels) axis.tuples.push_back({level});
      axes.push_back(std::move(axis));
      continue;
    }
    if (!done_groups.insert(it->second).second) continue;
    Axis axis;
    size_t n = factor.levels.size();
    std::vector<const Factor*> members;
    for (const auto& name : spec.zip_groups[it->second]) {
      const Factor* f = spec.FindFactor(name);
      if (f == nullptr) continue;
      members.push_back(f);
      axis.factors.push_back(name);
      n = std::min(n, f->levels.size());
    }
    for (size_t i = 0; i < n; ++i) {
      std::vector<std::string> tuple;
      for (const Factor* f : members) tuple.push_back(f->levels[i]);
      axis.tuples.push_back(std::move(tuple));
    }
    axes.push_back(std::move(axis));
  }
  return axes;
}

bool Excluded(const ExperimentSpec& spec, const std::map<std::string, std::string>& combo) {
  for (const ExcludeRule& rule : spec.excludes) {
    bool all = !rule.when.empty();
    for (const auto& [factor, level] : rule.when) {
      auto it = combo.find(factor);
      if (it == combo.end() || it->second != level) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

// Axis lengths without building tuples: name ("a" or "(a,b)") -> levels.
std::vector<std::pair<std::string, uint64_t>> AxisSizes(const ExperimentSpec& spec) {
  std::map<std::string, size_t> group_of;
  for (size_t g = 0; g < spec.zip_groups.size(); ++g) {
    for (const auto& f : spec.zip_groups[g]) group_of[f] = g;
  }
  std::vector<std::pair<std::string, uint64_t>> out;
  std::set<size_t> done_groups;
  for (const Factor& factor : spec.factors) {
    auto it = group_of.find(factor.name);
    if (it == group_of.end()) {
      out.emplace_back(factor.name, factor.levels.size());
      continue;
    }
    if (!done_groups.insert(it->second).second) continue;
    uint64_t n = factor.levels.size();
    std::vector<std::string> members;
    for (const auto& name : spec.zip_groups[it->second]) {
      const Factor* f = spec.FindFactor(name);
      if (f == nullptr) continue;
      members.push_back(name);
      n = std::min<uint64_t>(n, f->levels.size());
    }
    out.emplace_back(absl::StrCat("(", absl::StrJoin(members, ","), ")"), n);
  }
  return out;
}

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

uint64_t Fnv1a(absl::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t PlannedRunUpperBound(const ExperimentSpec& spec) {
  uint64_t n = 1;
  for (const auto& [name, size] : AxisSizes(spec)) n = SaturatingMul(n, size);
  return SaturatingMul(n, static_cast<uint64_t>(std::max(spec.repetitions, 0)));
}

std::string DescribeMatrixSize(const ExperimentSpec& spec) {
  std::vector<std::string> parts;
  for (const auto& [name, size] : AxisSizes(spec)) parts.push_back(absl::StrCat(name, "=", size));
  parts.push_back(absl::StrCat(spec.repetitions, " repetitions"));
  return absl::StrJoin(parts, " x ");
}

std::vector<std::map<std::string, std::string>> ExpandCombinations(const ExperimentSpec& spec) {
  std::vector<Axis> axes = BuildAxes(spec);
  // An empty axis empties the product: stop before the axes ahead of it multiply out (the
  // run limit, which is 0 here, does not bound those partial products).
  for (const Axis& axis : axes) {
    if (axis.tuples.empty()) return {};
  }
  std::vector<std::map<std::string, std::string>> combos = {{}};
  for (const Axis& axis : axes) {
    std::vector<std::map<std::string, std::string>> next;
    for (const auto& combo : combos) {
      for (const auto& tuple : axis.tuples) {
        auto c = combo;
        for (size_t i = 0; i < axis.factors.size(); ++i) c[axis.factors[i]] = tuple[i];
        next.push_back(std::move(c));
      }
    }
    combos = std::move(next);
  }
  std::vector<std::map<std::string, std::string>> kept;
  for (auto& combo : combos) {
    if (!Excluded(spec, combo)) kept.push_back(std::move(combo));
  }
  return kept;
}

std::string MakeRunId(absl::string_view experiment, const std::map<std::string, std::string>& f,
                      uint32_t repetition, absl::string_view campaign) {
  uint64_t h = Fnv1a(experiment);
  // Runs stored before campaigns keep their ids; a campaign's runs are its own.
  if (!campaign.empty()) h = Fnv1a(absl::StrCat("\x1d", campaign), h);
  for (const auto& [name, level] : f) {
    h = Fnv1a("\x1f", h);
    h = Fnv1a(name, h);
    h = Fnv1a("=", h);
    h = Fnv1a(level, h);
  }
  h = Fnv1a(absl::StrCat("\x1e", repetition), h);
  return absl::StrFormat("%s-%016x", experiment, h);
}

std::vector<PlannedRun> ExpandMatrix(const ExperimentSpec& spec, uint64_t seed,
                                     absl::string_view campaign) {
  std::vector<PlannedRun> runs;
  for (const auto& combo : ExpandCombinations(spec)) {
    for (int rep = 1; rep <= spec.repetitions; ++rep) {
      PlannedRun run;
      run.repetition = static_cast<uint32_t>(rep);
      run.factors = combo;
      run.run_id = MakeRunId(spec.name, combo, run.repetition, campaign);
      runs.push_back(std::move(run));
    }
  }
  if (spec.randomize && runs.size() > 1) {
    // Our own Fisher-Yates: std::shuffle's sequence differs between standard libraries, and a
    // recorded seed must reproduce the same order everywhere.
    std::mt19937_64 rng(seed);
    for (size_t i = runs.size() - 1; i > 0; --i) {
      size_t j = static_cast<size_t>(rng() % (i + 1));
      std::swap(runs[i], runs[j]);
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) runs[i].order = static_cast<uint32_t>(i);
  return runs;
}

}  // namespace rcbench::controller
