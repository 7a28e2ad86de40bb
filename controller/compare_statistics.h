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

// Combines verdicts (of the cells of a metric, or of the metrics of a comparison): WORSE if any
// is WORSE; else BETTER if any is BETTER; else SAME if all are SAME (or there are none); else
// UNKNOWN. BETTER thus means "an improvement and no regression found", not "every part judged".
Verdict CombineVerdicts(const std::vector<Verdict>& verdicts);

struct MetricComparison {
  std::string metric;
  size_t n_baseline = 0;
  size_t n_candidate = 0;
  double median_baseline = 0;
  double median_candidate = 0;
  double change = 0;  // relative change of medians, 0.1 = +10%
  Interval change_ci;
  double p_value = 1;     // Mann-Whitney U, two-sided; NaN when not tested
  double p_adjusted = 1;  // Holm-adjusted across the family the verdict was decided in
  size_t family_size = 1;
  Verdict verdict = Verdict::kUnknown;
  // For UNKNOWN: how many more repetitions per side the verdict would need (estimate).
  int more_repetitions = 0;
  std::string reason;
  // Whether the comparison can be tested (both sides have >= 2 values, nonzero baseline).
  bool testable() const;
};

// The significance level of a family (all cells of one metric): a metric's cells are jointly
// WORSE by chance with probability at most kAlpha / 2 (Holm, one direction).
inline constexpr double kAlpha = 0.02;

// Medians, change, its bootstrap 95% CI (`bootstrap_resamples` draws; 0 skips it, leaving a NaN
// interval) and the U test's p-value, without a verdict (UNKNOWN).
MetricComparison MeasureSamples(const std::string& metric, const std::vector<double>& baseline,
                                const std::vector<double>& candidate,
                                int bootstrap_resamples = 2000);

// Holm's step-down adjustment of `p` (same order). NaNs are ignored and stay NaN.
std::vector<double> HolmAdjust(const std::vector<double>& p);

// The fewest repetitions per side with which the exact U test can give a two-sided p below
// `alpha` (fully separated samples of n each give 2 / C(2n, n)).
int MinRepetitionsForSignificance(double alpha);

// Decides the verdicts of a family of comparisons of one metric (its cells; documented in
// docs/STATISTICS.md): Holm-adjusts the p-values of the testable ones, then
//  - fewer than 2 values on a side, or a zero baseline median: UNKNOWN;
//  - adjusted p < kAlpha: BETTER/WORSE by the rule's direction when |change| is at least
//    min_effect, otherwise SAME (a real but negligible difference);
//  - otherwise SAME when the whole 95% CI lies within +-min_effect, else UNKNOWN with an
//    estimate of the repetitions per side needed.
void DecideFamily(const MetricRule& rule, std::vector<MetricComparison>& family);

// MeasureSamples then DecideFamily for a family of one.
MetricComparison CompareSamples(const std::string& metric, const std::vector<double>& baseline,
                                const std::vector<double>& candidate, const MetricRule& rule);

}  // namespace rcbench::controller
