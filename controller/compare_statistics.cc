#include "controller/compare_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rcbench::controller {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Number of arrangements of m x's and n y's with U = u, for u in [0, m*n].
std::vector<double> UDistribution(int m, int n) {
  // f[i][j][u] built incrementally over (i, j) with the recurrence
  // f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u).
  std::vector<std::vector<std::vector<double>>> f(m + 1, std::vector<std::vector<double>>(n + 1));
  for (int i = 0; i <= m; ++i) {
    for (int j = 0; j <= n; ++j) {
      f[i][j].assign(i * j + 1, 0.0);
      if (i == 0 || j == 0) {
        f[i][j][0] = 1;
        continue;
      }
      for (int u = 0; u <= i * j; ++u) {
        double a = (u - j >= 0 && u - j <= (i - 1) * j) ? f[i - 1][j][u - j] : 0;
        double b = (u <= i * (j - 1)) ? f[i][j - 1][u] : 0;
        f[i][j][u] = a + b;
      }
    }
  }
  return f[m][n];
}

}  // namespace

double Median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

MannWhitneyResult MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y) {
  MannWhitneyResult r;
  const size_t n1 = x.size(), n2 = y.size();
  if (n1 == 0 || n2 == 0) return r;
  // Ranks over the pooled sample, ties getting their average rank.
  std::vector<std::pair<double, int>> all;
  for (double v : x) all.push_back({v, 0});
  for (double v : y) all.push_back({v, 1});
  std::sort(all.begin(), all.end());
  const size_t n = all.size();
  double rank_sum_x = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    double t = static_cast<double>(j - i);
    double avg_rank = (i + 1 + j) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (all[k].second == 0) rank_sum_x += avg_rank;
    }
    if (t > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  r.u = rank_sum_x - n1 * (n1 + 1) / 2.0;
  const double mean = n1 * n2 / 2.0;
  if (!ties && n <= 40) {
    std::vector<double> dist = UDistribution(static_cast<int>(n1), static_cast<int>(n2));
    double total = 0;
    for (double c : dist) total += c;
    double u_small = std::min(r.u, n1 * n2 - r.u);
    double tail = 0;
    for (int u = 0; u <= static_cast<int>(std::floor(u_small + 1e-9)); ++u) tail += dist[u];
    r.p_value = std::min(1.0, 2 * tail / total);
    r.exact = true;
    return r;
  }
  double var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (static_cast<double>(n) * (n - 1)));
  if (var <= 0) {
    r.p_value = 1;
    return r;
  }
  double z = (std::abs(r.u - mean) - 0.5) / std::sqrt(var);
  if (z < 0) z = 0;
  r.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return r;
}

Interval BootstrapChangeCi(const std::vector<double>& baseline,
                           const std::vector<double>& candidate, double confidence, int resamples,
                           uint64_t seed) {
  if (baseline.empty() || candidate.empty() || resamples < 1) return {kNaN, kNaN};
  std::mt19937_64 rng(seed);
  auto resample = [&](const std::vector<double>& v) {
    std::vector<double> out(v.size());
    for (double& o : out) o = v[rng() % v.size()];
    return Median(std::move(out));
  };
  std::vector<double> changes;
  changes.reserve(resamples);
  for (int i = 0; i < resamples; ++i) {
    double b = resample(baseline);
    double c = resample(candidate);
    if (b == 0) continue;
    changes.push_back(c / b - 1);
  }
  if (changes.size() < static_cast<size_t>(resamples) / 2) return {kNaN, kNaN};
  std::sort(changes.begin(), changes.end());
  auto quantile = [&](double q) {
    double pos = q * (changes.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(pos));
    size_t hi = std::min(lo + 1, changes.size() - 1);
    return changes[lo] + (changes[hi] - changes[lo]) * (pos - lo);
  };
  double tail = (1 - confidence) / 2;
  return {quantile(tail), quantile(1 - tail)};
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kSame:
      return "SAME";
    case Verdict::kBetter:
      return "BETTER";
    case Verdict::kWorse:
      return "WORSE";
    case Verdict::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

Verdict CombineVerdicts(const std::vector<Verdict>& verdicts) {
  auto any = [&](Verdict v) {
    return std::find(verdicts.begin(), verdicts.end(), v) != verdicts.end();
  };
  if (any(Verdict::kWorse)) return Verdict::kWorse;
  if (any(Verdict::kBetter)) return Verdict::kBetter;
  if (any(Verdict::kUnknown)) return Verdict::kUnknown;
  return Verdict::kSame;
}

bool MetricComparison::testable() const {
  return std::min(n_baseline, n_candidate) >= 2 && std::isfinite(median_baseline) &&
         median_baseline != 0;
}

MetricComparison MeasureSamples(const std::string& metric, const std::vector<double>& baseline,
                                const std::vector<double>& candidate, int bootstrap_resamples) {
  MetricComparison c;
  c.metric = metric;
  c.n_baseline = baseline.size();
  c.n_candidate = candidate.size();
  c.median_baseline = Median(baseline);
  c.median_candidate = Median(candidate);
  c.change = kNaN;
  c.change_ci = {kNaN, kNaN};
  c.p_value = kNaN;
  c.p_adjusted = kNaN;
  if (!c.testable()) {
    if (c.median_baseline == 0 && c.median_candidate == 0) c.change = 0;
    return c;
  }
  c.change = c.median_candidate / c.median_baseline - 1;
  if (bootstrap_resamples > 0) {
    c.change_ci = BootstrapChangeCi(baseline, candidate, 0.95, bootstrap_resamples);
  }
  c.p_value = MannWhitneyU(candidate, baseline).p_value;
  c.p_adjusted = c.p_value;
  return c;
}

std::vector<double> HolmAdjust(const std::vector<double>& p) {
  std::vector<size_t> order;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!std::isnan(p[i])) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> out = p;
  const size_t m = order.size();
  double running_max = 0;
  for (size_t rank = 0; rank < m; ++rank) {
    running_max = std::max(running_max, std::min(1.0, (m - rank) * p[order[rank]]));
    out[order[rank]] = running_max;
  }
  return out;
}

int MinRepetitionsForSignificance(double alpha) {
  // 2 / C(2n, n) falls fast: n = 4 gives 0.029, 5 gives 0.0079, 6 gives 0.0022.
  double arrangements = 2;  // C(2, 1)
  for (int n = 1; n < 1000; ++n) {
    if (2 / arrangements < alpha) return std::max(n, 2);
    arrangements *= (2.0 * n + 1) * (2.0 * n + 2) / ((n + 1.0) * (n + 1.0));
  }
  return 1000;
}

namespace {

// z with P(|Z| > z) = two_sided_p, by bisection on erfc.
double TwoSidedZ(double two_sided_p) {
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    double mid = (lo + hi) / 2;
    (std::erfc(mid / std::sqrt(2.0)) > two_sided_p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

void Decide(const MetricRule& rule, MetricComparison& c) {
  const double level = kAlpha / static_cast<double>(std::max<size_t>(1, c.family_size));
  const int min_n = MinRepetitionsForSignificance(level);
  const size_t n = std::min(c.n_baseline, c.n_candidate);
  if (std::min(c.n_baseline, c.n_candidate) < 2) {
    c.verdict = Verdict::kUnknown;
    c.more_repetitions = min_n - static_cast<int>(n);
    if (c.n_baseline == 0 || c.n_candidate == 0) {
      c.reason =
          absl::StrCat("no values on the ", c.n_baseline == 0 ? "baseline" : "candidate", " side");
    } else {
      c.reason = "fewer than 2 values on a side";
    }
    return;
  }
  if (c.median_baseline == 0) {
    c.verdict = c.median_candidate == 0 ? Verdict::kSame : Verdict::kUnknown;
    c.reason = "baseline median is 0: relative change undefined";
    return;
  }
  const std::string p_text =
      c.family_size > 1
          ? absl::StrFormat("Holm-adjusted p=%.3g over %d cells", c.p_adjusted, c.family_size)
          : absl::StrFormat("p=%.3g", c.p_adjusted);
  if (c.p_adjusted < kAlpha) {
    if (std::abs(c.change) < rule.min_effect) {
      c.verdict = Verdict::kSame;
      c.reason = absl::StrFormat("%s < %.2f but |change| below the minimum effect of %.1f%%",
                                 p_text, kAlpha, rule.min_effect * 100);
    } else {
      bool up = c.change > 0;
      bool good = (rule.direction == Direction::kHigherIsBetter) == up;
      c.verdict = good ? Verdict::kBetter : Verdict::kWorse;
      c.reason = absl::StrFormat("%s < %.2f and |change| >= %.1f%%", p_text, kAlpha,
                                 rule.min_effect * 100);
    }
    return;
  }
  if (c.change_ci.low >= -rule.min_effect && c.change_ci.high <= rule.min_effect) {
    c.verdict = Verdict::kSame;
    c.reason = absl::StrFormat("95%% CI within +-%.1f%%", rule.min_effect * 100);
    return;
  }
  c.verdict = Verdict::kUnknown;
  // The CI half-width shrinks roughly with 1/sqrt(n). To call a difference, the interval at the
  // family's level must shrink below |change|; to call SAME, the 95% one below the room left
  // inside +-min_effect.
  const double half = (c.change_ci.high - c.change_ci.low) / 2;
  const double change = std::abs(c.change);
  double ratio = std::numeric_limits<double>::infinity();
  if (change >= rule.min_effect) {
    ratio = half * TwoSidedZ(level) / TwoSidedZ(0.05) / change;
  } else if (rule.min_effect - change > 0) {
    ratio = half / (rule.min_effect - change);
  }
  int wanted = 1000;
  if (std::isfinite(ratio)) {
    wanted = static_cast<int>(std::min(1000.0, std::ceil(n * ratio * ratio)));
  }
  wanted = std::max(wanted, min_n);
  c.more_repetitions = std::max(1, wanted - static_cast<int>(n));
  c.reason = absl::StrFormat("too noisy (%s); about %d more repetitions per side wanted", p_text,
                             c.more_repetitions);
}

}  // namespace

void DecideFamily(const MetricRule& rule, std::vector<MetricComparison>& family) {
  std::vector<double> p;
  size_t tested = 0;
  for (const auto& c : family) {
    p.push_back(c.testable() ? c.p_value : kNaN);
    tested += c.testable();
  }
  std::vector<double> adjusted = HolmAdjust(p);
  for (size_t i = 0; i < family.size(); ++i) {
    family[i].p_adjusted = adjusted[i];
    family[i].family_size = std::max<size_t>(1, tested);
    Decide(rule, family[i]);
  }
}

MetricComparison CompareSamples(const std::string& metric, const std::vector<double>& baseline,
                                const std::vector<double>& candidate, const MetricRule& rule) {
  std::vector<MetricComparison> family = {MeasureSamples(metric, baseline, candidate)};
  DecideFamily(rule, family);
  return family[0];
}

}  // namespace rcbench::controller
