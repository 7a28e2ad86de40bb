#include "controller/changepoint.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rcbench::controller {

const char kChangePointAlgorithm[] = "E-divisive means + Welch t-test (Otava/Hunter)";

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

WelchResult Welch(const Moments& a, const Moments& b) {
  WelchResult r;
  const double va = a.variance / a.n;
  const double vb = b.variance / b.n;
  const double diff = b.mean - a.mean;
  if (va + vb <= 0) {
    // Two constant segments: identical or certainly different.
    r.t = diff == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), diff);
    r.df = static_cast<double>(a.n + b.n - 2);
    r.p_value = diff == 0 ? 1 : 0;
    return r;
  }
  r.t = diff / std::sqrt(va + vb);
  r.df = (va + vb) * (va + vb) / (va * va / (a.n - 1) + vb * vb / (b.n - 1));
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

}  // namespace

double StudentTTwoSidedP(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (std::isinf(t)) return 0;
  return RegularizedIncompleteBeta(df / 2, 0.5, df / (df + t * t));
}

WelchResult WelchTTest(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return {kNaN, kNaN, kNaN};
  return Welch(MomentsOf(a, 0, a.size()), MomentsOf(b, 0, b.size()));
}

absl::StatusOr<ChangePointResult> FindChangePoints(const std::vector<double>& series,
                                                   const ChangePointOptions& options) {
  if (!(options.max_p_value > 0 && options.max_p_value < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("p-value threshold ", options.max_p_value, ": expected a number in (0, 1)"));
  }
  if (options.min_segment < 2) {
    return absl::InvalidArgumentError(absl::StrCat("minimum segment ", options.min_segment,
                                                   ": expected at least 2 points (a variance)"));
  }
  for (size_t i = 0; i < series.size(); ++i) {
    if (!std::isfinite(series[i])) {
      return absl::InvalidArgumentError(absl::StrCat("point ", i, " is not a finite number"));
    }
  }
  ChangePointResult result;
  result.options = options;
  result.n = series.size();
  const size_t min_segment = static_cast<size_t>(options.min_segment);

  // Bisection: a segment's best split is kept when the t-test between its two sides passes.
  std::vector<Candidate> accepted;
  std::vector<std::pair<size_t, size_t>> segments = {{0, series.size()}};
  while (!segments.empty()) {
    auto [lo, hi] = segments.back();
    segments.pop_back();
    if (hi - lo < 2 * min_segment) continue;
    const Candidate c = BestSplit(series, lo, hi, min_segment);
    const WelchResult w = Welch(MomentsOf(series, lo, c.index), MomentsOf(series, c.index, hi));
    if (!(w.p_value <= options.max_p_value)) continue;
    accepted.push_back(c);
    segments.push_back({lo, c.index});
    segments.push_back({c.index, hi});
  }
  std::sort(accepted.begin(), accepted.end(),
            [](const Candidate& a, const Candidate& b) { return a.index < b.index; });

  // A change point found in a wide segment may not hold against its final, narrower neighbours;
  // drop the weakest such until every one passes against the segments either side of it.
  std::vector<ChangePoint> points;
  while (true) {
    points.clear();
    for (size_t i = 0; i < accepted.size(); ++i) {
      const size_t lo = i == 0 ? 0 : accepted[i - 1].index;
      const size_t hi = i + 1 == accepted.size() ? series.size() : accepted[i + 1].index;
      const Moments before = MomentsOf(series, lo, accepted[i].index);
      const Moments after = MomentsOf(series, accepted[i].index, hi);
      const WelchResult w = Welch(before, after);
      ChangePoint p;
      p.index = accepted[i].index;
      p.energy = accepted[i].energy;
      p.p_value = w.p_value;
      p.t = w.t;
      p.n_before = before.n;
      p.n_after = after.n;
      p.mean_before = before.mean;
      p.mean_after = after.mean;
      p.stddev_before = std::sqrt(before.variance);
      p.stddev_after = std::sqrt(after.variance);
      p.relative_change = before.mean == 0 ? kNaN : after.mean / before.mean - 1;
      points.push_back(p);
    }
    size_t weakest = points.size();
    for (size_t i = 0; i < points.size(); ++i) {
      if (points[i].p_value > options.max_p_value &&
          (weakest == points.size() || points[i].p_value > points[weakest].p_value)) {
        weakest = i;
      }
    }
    if (weakest == points.size()) break;
    accepted.erase(accepted.begin() + static_cast<std::ptrdiff_t>(weakest));
  }
  result.change_points = std::move(points);
  return result;
}

}  // namespace rcbench::controller
