#pragma once

// Statistics for `rcbench compare`: medians, the Mann-Whitney U test, a bootstrap confidence
// interval for the relative change of medians, and the verdict rules. Pure functions.

#include <cstdint>
#include <string>
#include <vector>

#include "controller/spec.h"

namespace rcbench::controller {

double Median(std::vector<double> values);  // NaN for an empty input

struct MannWhitneyResult {
  double u = 0;        // U of the first sample (pairs where x > y, ties counting 1/2)
  double p_value = 1;  // two-sided
  bool exact = false;  // exact distribution (no ties, n1 + n2 <= 40) or normal approximation
};

// Two-sided Mann-Whitney U test. Exact p-value without ties for small samples; otherwise the
// normal approximation with tie and continuity corrections (as scipy's method="asymptotic").
MannWhitneyResult MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y);

struct Interval {
  double low = 0;
  double high = 0;
};

// Percentile bootstrap (`resamples` draws, each side resampled with replacement) of
// median(candidate) / median(baseline) - 1. Deterministic for a given seed. NaNs when a
// baseline median is 0 or a side is empty.
Interval BootstrapChangeCi(const std::vector<double>& baseline,
                           const std::vector<double>& candidate, double confidence = 0.95,
                           int resamples = 2000, uint64_t seed = 1);

enum class Verdict { kSame, kBetter, kWorse, kUnknown };
const char* VerdictName(Verdict v);

struct MetricComparison {
  std::string metric;
  size_t n_baseline = 0;
  size_t n_candidate = 0;
  double median_baseline = 0;
  double median_candidate = 0;
  double change = 0;  // relative change of medians, 0.1 = +10%
  Interval change_ci;
  double p_value = 1;
  Verdict verdict = Verdict::kUnknown;
  // For UNKNOWN: how many more repetitions per side the verdict would need (estimate).
  int more_repetitions = 0;
  std::string reason;
};

inline constexpr double kAlpha = 0.05;

// Applies the verdict rules (documented in controller/README.md):
//  - fewer than 2 values on a side, or a zero baseline median: UNKNOWN;
//  - p < alpha and the CI excludes 0: BETTER/WORSE by the rule's direction when |change| is at
//    least min_effect, otherwise SAME (a real but negligible difference);
//  - otherwise SAME when the whole CI lies within +-min_effect, else UNKNOWN with an estimate
//    of the repetitions per side needed for the CI half-width to fall below |change| (when
//    |change| >= min_effect) or below min_effect - |change| (otherwise), and at least 4 per
//    side, the fewest with which the U test can reach p < 0.05.
MetricComparison CompareSamples(const std::string& metric, const std::vector<double>& baseline,
                                const std::vector<double>& candidate, const MetricRule& rule);

}  // namespace rcbench::controller
