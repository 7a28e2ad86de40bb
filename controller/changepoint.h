#pragma once

// Change points in a series of measurements (issue #15, `rcbench history`), found as Apache
// Otava (formerly datastax-labs/hunter) finds them: E-divisive means (Matteson and James, "A
// Nonparametric Approach for Multiple Change Point Analysis of Multivariate Data", 2014)
// proposes the split of a segment that maximizes the energy-distance statistic, and a
// two-sample t-test between the two sides replaces E-divisive's permutation test: a candidate
// is kept only when p <= max_p_value. Accepted splits are bisected again. Afterwards every
// change point is tested again against its neighbouring segments, and the weakest one whose
// p-value is above the threshold is dropped until none is (Otava's "weak change point"
// removal), so every reported p-value is that of the two segments either side of it.
//
// Three choices differ from Otava's, all measured in changepoint_test.cc and explained in
// controller/README.md ("History"):
//  - A point may hold several values (a campaign's repetitions). E-divisive splits the series
//    of point medians; the t-test compares the means of every value either side, so
//    repetitions buy power where a short series of medians has too few points.
//  - The noise the t-test measures against comes from the whole segment, blind to steps: the
//    spread of values within points, or for single values the successive differences. Welch's
//    per-side variances flagged 2-4% of stationary series at p <= 0.001 (a 3-point end segment
//    whose values happened to lie close together), and the two sides' pooled variance missed a
//    step up and back down (the second step inflates it).
//  - The p-value is corrected for the search over split positions.
//
// Pure functions; thread-compatible.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rcbench::controller {

struct ChangePointOptions {
  // A candidate is a change point when the two-sided t-test between the segments either side
  // of it gives p <= max_p_value after the correction for the search. Must be in (0, 1).
  double max_p_value = 0.001;
  // The fewest points a segment may have (>= 2: a segment needs a variance).
  int min_segment = 3;
  // Test each point's median instead of its values: for series whose points differ among
  // themselves by more than their values' noise (campaigns on hosts that vary boot to boot).
  // Fewer false alarms then, and far less power with few points.
  bool test_medians = false;
};

struct ChangePoint {
  size_t index = 0;  // the first point after the change
  // The t-test's p-value times 1 + ln(positions the split could have taken): the tail of the
  // largest statistic over correlated positions grows with the logarithm of their number
  // (Siegmund), so Bonferroni's factor (their number) would cost power for nothing.
  double p_value = 1;
  double uncorrected_p_value = 1;  // the t-test's own
  double t = 0;                    // the t statistic of after - before
  double energy = 0;               // the E-divisive statistic of the split when it was proposed
  size_t n_before = 0;             // points of the segment before (from the previous change point)
  size_t n_after = 0;              // points of the segment after (to the next change point)
  size_t values_before = 0;        // values in those points (runs: a point may hold several)
  size_t values_after = 0;
  double mean_before = 0;  // of the values, not of the point medians
  double mean_after = 0;
  double stddev_before = 0;
  double stddev_after = 0;
  double relative_change = 0;  // mean_after / mean_before - 1; NaN when mean_before is 0
};

struct ChangePointResult {
  ChangePointOptions options;              // the parameters used, so a report can print them
  size_t n = 0;                            // points in the series
  std::vector<ChangePoint> change_points;  // by index
  // Whether the points vary among themselves by more than their values do: the p-value of a
  // one-way analysis of variance of the values by point within the final segments (F-test).
  // Small (say <= 0.01) means the t-test over values is overconfident and `test_medians` is
  // the test to trust. NaN when no point has two values or no segment has two points.
  double points_differ_p_value = 0;
  double points_differ_f = 0;
};

// The algorithm, named for reports.
extern const char kChangePointAlgorithm[];

// `points[i]` holds point i's values (at least one). INVALID_ARGUMENT for options out of range,
// a point without values, or a value that is not finite. A series shorter than 2 * min_segment
// points has no change points.
absl::StatusOr<ChangePointResult> FindChangePoints(const std::vector<std::vector<double>>& points,
                                                   const ChangePointOptions& options = {});
// One value per point.
absl::StatusOr<ChangePointResult> FindChangePoints(const std::vector<double>& series,
                                                   const ChangePointOptions& options = {});

// P(|T| >= |t|) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole).
double StudentTTwoSidedP(double t, double df);

}  // namespace rcbench::controller
