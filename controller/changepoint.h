#pragma once

// Change points in a series of measurements (issue #15, `rcbench history`), found as Apache
// Otava (formerly datastax-labs/hunter) finds them: E-divisive means (Matteson and James, "A
// Nonparametric Approach for Multiple Change Point Analysis of Multivariate Data", 2014)
// proposes the split of a segment that maximizes the energy-distance statistic, and a Welch
// two-sample t-test between the two sides replaces E-divisive's permutation test: a candidate
// is kept only when p <= max_p_value. Accepted splits are bisected again. Afterwards every
// change point is tested again against its neighbouring segments, and the weakest one whose
// p-value is above the threshold is dropped until none is (Otava's "weak change point"
// removal), so every reported p-value is that of the two segments either side of it.
//
// Pure functions; thread-compatible.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rcbench::controller {

struct ChangePointOptions {
  // A candidate is a change point when the two-sided Welch t-test between the segments either
  // side of it gives p <= max_p_value. Must be in (0, 1).
  double max_p_value = 0.001;
  // The fewest points a segment may have (>= 2: a segment needs a variance).
  int min_segment = 3;
};

struct ChangePoint {
  size_t index = 0;  // the first point after the change
  double p_value = 1;
  double t = 0;         // Welch's t of after - before
  double energy = 0;    // the E-divisive statistic of the split when it was proposed
  size_t n_before = 0;  // points of the segment before (from the previous change point)
  size_t n_after = 0;   // points of the segment after (to the next change point)
  double mean_before = 0;
  double mean_after = 0;
  double stddev_before = 0;
  double stddev_after = 0;
  double relative_change = 0;  // mean_after / mean_before - 1; NaN when mean_before is 0
};

struct ChangePointResult {
  ChangePointOptions options;              // the parameters used, so a report can print them
  size_t n = 0;                            // points in the series
  std::vector<ChangePoint> change_points;  // by index
};

// The algorithm, named for reports: "E-divisive means + Welch t-test (Otava/Hunter)".
extern const char kChangePointAlgorithm[];

// INVALID_ARGUMENT for options out of range or a value that is not finite. A series shorter
// than 2 * min_segment has no change points.
absl::StatusOr<ChangePointResult> FindChangePoints(const std::vector<double>& series,
                                                   const ChangePointOptions& options = {});

struct WelchResult {
  double t = 0;
  double df = 0;
  double p_value = 1;  // two-sided
};

// Welch's unequal-variance t-test of mean(b) - mean(a). Both samples need >= 2 values. With no
// variance on either side, p is 1 when the means are equal and 0 otherwise.
WelchResult WelchTTest(const std::vector<double>& a, const std::vector<double>& b);

// P(|T| >= |t|) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole).
double StudentTTwoSidedP(double t, double df);

}  // namespace rcbench::controller
