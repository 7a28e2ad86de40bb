#include "controller/changepoint.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rcbench::controller {

const char kChangePointAlgorithm[] =
    "E-divisive means + t-test against the segment's noise (after Otava/Hunter)";

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Continued fraction of the regularized incomplete beta function (modified Lentz), which
// converges quickly for x < (a + 1) / (a + b + 2).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-15;
  double c = 1;
  double d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < kEpsilon) break;
  }
  return h;
}

// I_x(a, b).
double RegularizedIncompleteBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * BetaContinuedFraction(a, b, x) / a;
  return 1 - std::exp(log_front) * BetaContinuedFraction(b, a, 1 - x) / b;
}

struct Moments {
  double mean = 0;
  double variance = 0;  // sample variance (n - 1)
  size_t n = 0;
};

Moments MomentsOf(const std::vector<double>& x, size_t lo, size_t hi) {
  Moments m;
  m.n = hi - lo;
  if (m.n == 0) return m;
  double sum = 0;
  for (size_t i = lo; i < hi; ++i) sum += x[i];
  m.mean = sum / m.n;
  if (m.n < 2) return m;
  double ss = 0;
  for (size_t i = lo; i < hi; ++i) ss += (x[i] - m.mean) * (x[i] - m.mean);
  m.variance = ss / (m.n - 1);
  return m;
}

// Moments of the union of two samples.
Moments Merge(const Moments& a, const Moments& b) {
  Moments m;
  m.n = a.n + b.n;
  if (m.n == 0) return m;
  m.mean = (a.mean * a.n + b.mean * b.n) / m.n;
  if (m.n < 2) return m;
  const double ss =
      a.variance * (a.n > 0 ? a.n - 1.0 : 0) + b.variance * (b.n > 0 ? b.n - 1.0 : 0) +
      a.n * (a.mean - m.mean) * (a.mean - m.mean) + b.n * (b.mean - m.mean) * (b.mean - m.mean);
  m.variance = ss / (m.n - 1);
  return m;
}

struct Noise {
  double variance = 0;
  double df = 0;
};

// The noise a split of [lo, hi) at `tau` is measured against, estimated from both sides but
// blind to steps inside them: with repeated values (on average two or more per point), their
// spread within points, pooled; with one value per point, half the mean squared difference of
// successive points on the same side (von Neumann), to which another step adds one term only.
// Neither grows with another change elsewhere in the segment, as the pooled variance of the
// two sides would, and neither relies on the variance of a 3-point end segment alone, as
// Welch's test does.
Noise SegmentNoise(const std::vector<Moments>& points, size_t lo, size_t tau, size_t hi) {
  double ss = 0, df = 0;
  for (size_t i = lo; i < hi; ++i) {
    ss += points[i].variance * (points[i].n - 1.0);
    df += points[i].n - 1.0;
  }
  if (df >= static_cast<double>(hi - lo)) return {ss / df, df};
  double sq = 0, m = 0;
  for (size_t i = lo + 1; i < hi; ++i) {
    if (i == tau) continue;
    const double d = points[i].mean - points[i - 1].mean;
    sq += d * d;
    ++m;
  }
  if (m < 1) return {kNaN, kNaN};
  // For normal noise the estimate from m differences varies like a sample variance with about
  // 2 m^2 / (3m - 1) degrees of freedom (two thirds of the usual m).
  return {sq / (2 * m), 2 * m * m / (3 * m - 1)};
}

struct SplitTestResult {
  double t = 0;
  double df = 0;
  double p_value = 1;
};

// Two-sided t-test of mean(after) - mean(before) against `noise`.
SplitTestResult SplitTest(const Moments& before, const Moments& after, const Noise& noise) {
  SplitTestResult r;
  r.df = noise.df;
  if (before.n == 0 || after.n == 0 || !(noise.df > 0)) return {kNaN, kNaN, kNaN};
  const double diff = after.mean - before.mean;
  const double se = std::sqrt(noise.variance * (1.0 / before.n + 1.0 / after.n));
  if (!(se > 0)) {
    // No noise at all: identical or certainly different.
    r.t = diff == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), diff);
    r.p_value = diff == 0 ? 1 : 0;
    return r;
  }
  r.t = diff / se;
  r.p_value = StudentTTwoSidedP(r.t, r.df);
  return r;
}

struct Candidate {
  size_t index = 0;
  double energy = 0;
};

// The split of x[lo, hi) with the largest energy statistic (alpha = 1)
//   Q = m k / (m + k) * (2/(m k) sum|a - b| - sum|a - a'| / C(m, 2) - sum|b - b'| / C(k, 2)),
// with both sides at least `min_segment` long. The three sums are updated as the split moves
// one point to the right, which makes the search O(n^2) instead of O(n^3).
Candidate BestSplit(const std::vector<double>& x, size_t lo, size_t hi, size_t min_segment) {
  double within_left = 0, within_right = 0, cross = 0;
  for (size_t i = lo; i < hi; ++i) {
    for (size_t j = i + 1; j < hi; ++j) within_right += std::abs(x[i] - x[j]);
  }
  Candidate best;
  best.energy = -std::numeric_limits<double>::infinity();
  for (size_t tau = lo; tau + min_segment <= hi; ++tau) {
    const size_t m = tau - lo;
    if (m >= min_segment) {
      const double k = static_cast<double>(hi - tau);
      const double md = static_cast<double>(m);
      const double q = md * k / (md + k) *
                       (2 * cross / (md * k) - within_left / (md * (md - 1) / 2) -
                        within_right / (k * (k - 1) / 2));
      if (q > best.energy) best = {tau, q};
    }
    // Move x[tau] from the right side to the left.
    double to_left = 0, to_right = 0;
    for (size_t i = lo; i < tau; ++i) to_left += std::abs(x[tau] - x[i]);
    for (size_t j = tau + 1; j < hi; ++j) to_right += std::abs(x[tau] - x[j]);
    within_left += to_left;
    within_right -= to_right;
    cross += to_right - to_left;
  }
  return best;
}

// The split tested is the best of every position E-divisive could choose in [lo, hi), so its
// p-value is corrected for that search (Bonferroni over the positions).
double SearchCorrected(double p, size_t lo, size_t hi, size_t min_segment) {
  const size_t positions = hi - lo + 1 - 2 * min_segment;
  return std::min(1.0, p * (1 + std::log(static_cast<double>(positions))));
}

}  // namespace

double StudentTTwoSidedP(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (std::isinf(t)) return 0;
  return RegularizedIncompleteBeta(df / 2, 0.5, df / (df + t * t));
}

absl::StatusOr<ChangePointResult> FindChangePoints(const std::vector<double>& series,
                                                   const ChangePointOptions& options) {
  std::vector<std::vector<double>> points;
  points.reserve(series.size());
  for (double v : series) points.push_back({v});
  return FindChangePoints(points, options);
}

absl::StatusOr<ChangePointResult> FindChangePoints(const std::vector<std::vector<double>>& points,
                                                   const ChangePointOptions& options) {
  if (!(options.max_p_value > 0 && options.max_p_value < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("p-value threshold ", options.max_p_value, ": expected a number in (0, 1)"));
  }
  if (options.min_segment < 2) {
    return absl::InvalidArgumentError(absl::StrCat("minimum segment ", options.min_segment,
                                                   ": expected at least 2 points (a variance)"));
  }
  std::vector<double> locations;  // each point's median: what E-divisive splits
  std::vector<Moments> values;    // each point's values (the analysis of variance)
  std::vector<Moments> moments;   // what the t-test compares: the values, or the median alone
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("point ", i, " has no values"));
    }
    for (double v : points[i]) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("point ", i, " has a value that is not a finite number"));
      }
    }
    std::vector<double> sorted = points[i];
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    locations.push_back(n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2);
    values.push_back(MomentsOf(points[i], 0, n));
    moments.push_back(options.test_medians ? MomentsOf(locations, i, i + 1) : values.back());
  }
  auto segment = [&moments](size_t lo, size_t hi) {
    Moments m;
    for (size_t i = lo; i < hi; ++i) m = Merge(m, moments[i]);
    return m;
  };

  auto split_test = [&](size_t lo, size_t tau, size_t hi) {
    return SplitTest(segment(lo, tau), segment(tau, hi), SegmentNoise(moments, lo, tau, hi));
  };

  ChangePointResult result;
  result.options = options;
  result.n = points.size();
  const size_t min_segment = static_cast<size_t>(options.min_segment);

  // Bisection: a segment's best split is kept when the t-test between its two sides passes.
  std::vector<Candidate> accepted;
  std::vector<std::pair<size_t, size_t>> segments = {{0, points.size()}};
  while (!segments.empty()) {
    auto [lo, hi] = segments.back();
    segments.pop_back();
    if (hi - lo < 2 * min_segment) continue;
    const Candidate c = BestSplit(locations, lo, hi, min_segment);
    const SplitTestResult t = split_test(lo, c.index, hi);
    if (!(SearchCorrected(t.p_value, lo, hi, min_segment) <= options.max_p_value)) continue;
    accepted.push_back(c);
    segments.push_back({lo, c.index});
    segments.push_back({c.index, hi});
  }
  std::sort(accepted.begin(), accepted.end(),
            [](const Candidate& a, const Candidate& b) { return a.index < b.index; });

  // A change point found in a wide segment may not hold against its final, narrower neighbours;
  // drop the weakest such until every one passes against the segments either side of it.
  std::vector<ChangePoint> found;
  while (true) {
    found.clear();
    for (size_t i = 0; i < accepted.size(); ++i) {
      const size_t lo = i == 0 ? 0 : accepted[i - 1].index;
      const size_t hi = i + 1 == accepted.size() ? points.size() : accepted[i + 1].index;
      const Moments before = segment(lo, accepted[i].index);
      const Moments after = segment(accepted[i].index, hi);
      const SplitTestResult t = split_test(lo, accepted[i].index, hi);
      ChangePoint p;
      p.uncorrected_p_value = t.p_value;
      p.index = accepted[i].index;
      p.energy = accepted[i].energy;
      p.p_value = SearchCorrected(t.p_value, lo, hi, min_segment);
      p.t = t.t;
      p.n_before = accepted[i].index - lo;
      p.n_after = hi - accepted[i].index;
      p.values_before = before.n;
      p.values_after = after.n;
      p.mean_before = before.mean;
      p.mean_after = after.mean;
      p.stddev_before = std::sqrt(before.variance);
      p.stddev_after = std::sqrt(after.variance);
      p.relative_change = before.mean == 0 ? kNaN : after.mean / before.mean - 1;
      found.push_back(p);
    }
    size_t weakest = found.size();
    for (size_t i = 0; i < found.size(); ++i) {
      if (found[i].p_value > options.max_p_value &&
          (weakest == found.size() || found[i].p_value > found[weakest].p_value)) {
        weakest = i;
      }
    }
    if (weakest == found.size()) break;
    accepted.erase(accepted.begin() + static_cast<std::ptrdiff_t>(weakest));
  }
  result.change_points = std::move(found);

  // One-way ANOVA of the values by point, within the final segments.
  double ss_between = 0, ss_within = 0, df_between = 0, df_within = 0;
  std::vector<size_t> bounds = {0};
  for (const auto& c : result.change_points) bounds.push_back(c.index);
  bounds.push_back(points.size());
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    Moments all;
    for (size_t i = bounds[b]; i < bounds[b + 1]; ++i) all = Merge(all, values[i]);
    for (size_t i = bounds[b]; i < bounds[b + 1]; ++i) {
      const Moments& m = values[i];
      ss_between += m.n * (m.mean - all.mean) * (m.mean - all.mean);
      ss_within += m.variance * (m.n - 1.0);
      df_within += m.n - 1.0;
    }
    df_between += bounds[b + 1] - bounds[b] - 1.0;
  }
  if (df_between > 0 && df_within > 0) {
    if (ss_within > 0) {
      const double f = (ss_between / df_between) / (ss_within / df_within);
      result.points_differ_f = f;
      result.points_differ_p_value = RegularizedIncompleteBeta(
          df_within / 2, df_between / 2, df_within / (df_within + df_between * f));
    } else {
      result.points_differ_f = ss_between > 0 ? std::numeric_limits<double>::infinity() : 0;
      result.points_differ_p_value = ss_between > 0 ? 0 : 1;
    }
  } else {
    result.points_differ_f = kNaN;
    result.points_differ_p_value = kNaN;
  }
  return result;
}

}  // namespace rcbench::controller
