#pragma once

// Expands an experiment's factors into the planned runs: the cartesian product of the factor
// axes (a `zip` group is one axis whose factors advance together), minus `exclude` matches,
// times the repetitions, in a seeded random (or declaration) order. Pure functions.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "controller/spec.h"

namespace rcbench::controller {

struct PlannedRun {
  std::string run_id;  // stable: from the experiment, campaign, factor levels and repetition
  uint32_t order = 0;  // position in the execution order, from 0
  uint32_t repetition = 1;
  std::map<std::string, std::string> factors;
};

// An upper bound on the planned runs, computed without expanding anything: the product of the
// axes' lengths (a zip group counts once) times the repetitions. Excludes can only shrink the
// real number. Saturates at UINT64_MAX instead of overflowing, so hostile specs are safe to
// size before ExpandMatrix.
uint64_t PlannedRunUpperBound(const ExperimentSpec& spec);

// "a=10 x b=1000 x (c,d)=5 x 3 repetitions": how PlannedRunUpperBound got its number.
std::string DescribeMatrixSize(const ExperimentSpec& spec);

// The distinct factor combinations (no repetitions), in declaration order.
std::vector<std::map<std::string, std::string>> ExpandCombinations(const ExperimentSpec& spec);

// Every planned run; the order is a Fisher-Yates shuffle driven by mt19937_64(seed) when the
// spec asks for random order (the same seed always gives the same order), else declaration
// order with repetitions innermost. Every campaign has the same order (the seed is the
// experiment's) and its own run ids.
std::vector<PlannedRun> ExpandMatrix(const ExperimentSpec& spec, uint64_t seed,
                                     absl::string_view campaign = "");

// 64-bit FNV-1a of `s`, continuing from `h`: the stable hash behind run ids and campaign names
// (the same on every platform and standard library, unlike std::hash).
uint64_t Fnv1a(absl::string_view s, uint64_t h = 1469598103934665603ull);

// "EXPERIMENT-<16 hex digits>" from the experiment name, the campaign (none: the ids runs had
// before campaigns), factor levels and repetition.
std::string MakeRunId(absl::string_view experiment, const std::map<std::string, std::string>& f,
                      uint32_t repetition, absl::string_view campaign = "");

}  // namespace rcbench::controller
