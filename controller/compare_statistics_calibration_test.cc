// Calibration of the verdict rules by simulation (docs/STATISTICS.md): the rate of false
// WORSE verdicts in A/A comparisons, the detection rate of a known regression, and the
// repetitions per side needed for 90% detection. Fixed seeds: the rates are reproducible, and
// each test prints what it measured.
//
// The full table of docs/STATISTICS.md (slow: minutes) comes from
//   build/tests/controller_test --gtest_also_run_disabled_tests
//     --gtest_filter='StatsCalibrationTest.DISABLED_*'

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/compare_statistics.h"

namespace rcbench::controller {
namespace {

// How run-to-run noise is drawn: each value is median * noise, where the noise has median 1
// and the given coefficient of variation.
enum class Noise { kLognormal, kStudentT3 };

class NoiseModel {
 public:
  NoiseModel(Noise kind, double cv, double outlier_rate, uint64_t seed)
      : kind_(kind), cv_(cv), outlier_rate_(outlier_rate), rng_(seed) {}

  // `n` values of a metric whose median is `median`.
  std::vector<double> Draw(int n, double median) {
    std::vector<double> out;
    out.reserve(n);
    for (int i = 0; i < n; ++i) out.push_back(median * One());
    return out;
  }

 private:
  double One() {
    double v;
    if (kind_ == Noise::kLognormal) {
      // CV of a lognormal: sqrt(exp(s^2) - 1).
      const double s = std::sqrt(std::log1p(cv_ * cv_));
      v = std::exp(s * normal_(rng_));
    } else {
      // t with 3 degrees of freedom has variance 3: scale it to the wanted CV, and keep the
      // values positive (a run cannot take negative time).
      v = std::max(0.05, 1 + cv_ / std::sqrt(3.0) * t3_(rng_));
    }
    // An outlier: a run disturbed by something else on the host, 1.5 to 3 times slower.
    if (uniform_(rng_) < outlier_rate_) v *= 1.5 + 1.5 * uniform_(rng_);
    return v;
  }

  Noise kind_;
  double cv_;
  double outlier_rate_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
  std::student_t_distribution<double> t3_{3};
  std::uniform_real_distribution<double> uniform_;
};

struct Rates {
  double worse = 0;
  double better = 0;
  double same = 0;
  double unknown = 0;
};

// Compares `trials` simulated pairs of samples of `n` values per side, the candidate's median
// shifted by `shift` (+0.1 = 10% slower), for a lower-is-better metric.
Rates Simulate(int trials, int n, double shift, Noise noise, double cv, double outlier_rate,
               double min_effect, uint64_t seed, int bootstrap_resamples = 2000) {
  NoiseModel model(noise, cv, outlier_rate, seed);
  const MetricRule rule{Direction::kLowerIsBetter, min_effect};
  Rates r;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> b = model.Draw(n, 100);
    std::vector<double> c = model.Draw(n, 100 * (1 + shift));
    std::vector<MetricComparison> family = {MeasureSamples("m", b, c, bootstrap_resamples)};
    DecideFamily(rule, family);
    switch (family[0].verdict) {
      case Verdict::kWorse:
        r.worse += 1.0 / trials;
        break;
      case Verdict::kBetter:
        r.better += 1.0 / trials;
        break;
      case Verdict::kSame:
        r.same += 1.0 / trials;
        break;
      case Verdict::kUnknown:
        r.unknown += 1.0 / trials;
        break;
    }
  }
  return r;
}

std::string Describe(const Rates& r) {
  return absl::StrFormat("WORSE %.1f%%, BETTER %.1f%%, SAME %.1f%%, UNKNOWN %.1f%%", r.worse * 100,
                         r.better * 100, r.same * 100, r.unknown * 100);
}

TEST(StatsCalibrationTest, AaComparisonsWithRealisticNoiseAreRarelyWorse) {
  // 1,000 A/A comparisons: 10 or 30 runs per side, CV 5-20%, lognormal or t(3) noise, 2%
  // outliers, min_effect 5% (the default of most metrics).
  constexpr int kTrials = 1000;
  int worse = 0;
  Rates total;
  uint64_t seed = 1000;
  // The 1,000 trials split over the noise models, CVs and two sample sizes.
  struct Case {
    Noise noise;
    double cv;
    int n;
  };
  std::vector<Case> cases;
  for (Noise noise : {Noise::kLognormal, Noise::kStudentT3}) {
    for (double cv : {0.05, 0.10, 0.20}) {
      for (int n : {10, 30}) cases.push_back({noise, cv, n});
    }
  }
  const int per_case = kTrials / static_cast<int>(cases.size()) + 1;
  int trials = 0;
  for (const Case& c : cases) {
    Rates r = Simulate(per_case, c.n, 0, c.noise, c.cv, 0.02, 0.05, seed++, 500);
    std::cout << absl::StrFormat("A/A %s CV %2.0f%% n=%2d: %s\n",
                                 c.noise == Noise::kLognormal ? "lognormal" : "t(3)     ",
                                 c.cv * 100, c.n, Describe(r));
    worse += static_cast<int>(std::lround(r.worse * per_case));
    total.worse += r.worse * per_case;
    total.better += r.better * per_case;
    total.same += r.same * per_case;
    total.unknown += r.unknown * per_case;
    trials += per_case;
  }
  std::cout << absl::StrFormat(
      "A/A overall (%d comparisons): WORSE %d (%.2f%%), BETTER %.2f%%, SAME %.1f%%, UNKNOWN "
      "%.1f%%\n",
      trials, worse, 100.0 * worse / trials, 100 * total.better / trials, 100 * total.same / trials,
      100 * total.unknown / trials);
  EXPECT_LE(worse, trials / 100);
}

TEST(StatsCalibrationTest, TenPercentRegressionAtFivePercentNoiseIsFoundWithTenRuns) {
  Rates r = Simulate(1000, 10, 0.10, Noise::kLognormal, 0.05, 0, 0.05, 7);
  std::cout << "10% shift, CV 5% lognormal, 10 runs per side, min_effect 5%: " << Describe(r)
            << "\n";
  EXPECT_GE(r.worse, 0.90);
}

TEST(StatsCalibrationTest, TenPercentRegressionIsFoundDespiteHeavyTailsAndOutliers) {
  Rates r = Simulate(1000, 10, 0.10, Noise::kStudentT3, 0.05, 0.02, 0.05, 8);
  std::cout << "10% shift, CV 5% t(3) + 2% outliers, 10 runs per side: " << Describe(r) << "\n";
  EXPECT_GE(r.worse, 0.85);
}

// The fewest repetitions per side (searched over `candidates`) detecting a `effect` regression
// at `cv` lognormal noise in at least 90% of `trials`, with min_effect at half the effect; 0
// when none does. The bootstrap is skipped: WORSE does not depend on it.
int RepetitionsFor90Percent(double effect, double cv, const std::vector<int>& candidates,
                            int trials) {
  auto detected = [&](int n) {
    Rates r = Simulate(trials, n, effect, Noise::kLognormal, cv, 0, effect / 2,
                       static_cast<uint64_t>(n * 1000 + effect * 100 + cv * 10), 0);
    return r.worse >= 0.90;
  };
  // Detection grows with n: binary search over the candidates.
  size_t lo = 0, hi = candidates.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (detected(candidates[mid])) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo < candidates.size() ? candidates[lo] : 0;
}

std::string RepetitionsTable(const std::vector<double>& effects, const std::vector<double>& cvs,
                             int max_n, int trials) {
  std::vector<int> candidates;
  for (int n = 2; n <= max_n; n += std::max(1, n / 10)) {
    candidates.push_back(n);
  }
  std::string out = "| effect \\ CV |";
  for (double cv : cvs) absl::StrAppend(&out, absl::StrFormat(" %.0f%% |", cv * 100));
  out += "\n|---|";
  for (size_t i = 0; i < cvs.size(); ++i) out += "---|";
  out += "\n";
  for (double effect : effects) {
    absl::StrAppend(&out, absl::StrFormat("| %.0f%% |", effect * 100));
    for (double cv : cvs) {
      int n = RepetitionsFor90Percent(effect, cv, candidates, trials);
      absl::StrAppend(&out, n ? absl::StrCat(" ", n, " |") : absl::StrCat(" > ", max_n, " |"));
    }
    out += "\n";
  }
  return out;
}

TEST(StatsCalibrationTest, RepetitionsForNinetyPercentDetectionShrinkWithTheEffectToNoiseRatio) {
  // A quick subset of the table (up to 40 runs per side, 300 trials each).
  std::string table = RepetitionsTable({0.05, 0.10, 0.20}, {0.02, 0.05, 0.10}, 40, 300);
  std::cout << "repetitions per side for 90% detection (lognormal noise, min_effect = effect/2, "
               "300 trials):\n"
            << table;
  // Pinpoint: a 2-IQR shift with 10 runs per side. For normal-like noise 2 IQR = 2.7 CV: the
  // 20% effect at 5% CV (4 CV) and 10% at 5% (2 CV) must need no more than 10.
  EXPECT_EQ(table.find("> 40"), table.rfind("> 40"));  // at most the 5% effect at 10% CV
  EXPECT_LE(RepetitionsFor90Percent(0.10, 0.05, {5, 6, 7, 8, 9, 10, 11}, 300), 10);
}

TEST(StatsCalibrationTest, PinpointSizedShiftsNeedFewerRepetitionsThanPinpoint) {
  // Pinpoint decides a 1.0-IQR shift with about 30 runs per side and a 2.0-IQR one with 10.
  // The IQR of lognormal noise of CV c is about 1.349 c (for small c): at CV 5%, 1.0 IQR is a
  // 6.7% shift and 2.0 IQR a 13.5% one.
  constexpr double kCv = 0.05;
  const double iqr = 2 * std::sinh(0.6745 * std::sqrt(std::log1p(kCv * kCv)));
  std::vector<int> candidates;
  for (int n = 2; n <= 30; ++n) candidates.push_back(n);
  int one_iqr = RepetitionsFor90Percent(iqr, kCv, candidates, 300);
  int two_iqr = RepetitionsFor90Percent(2 * iqr, kCv, candidates, 300);
  std::cout << absl::StrFormat(
      "90%% detection at CV 5%%: 1.0 IQR (%.1f%%) needs %d runs per side (Pinpoint ~30), "
      "2.0 IQR (%.1f%%) needs %d (Pinpoint ~10)\n",
      iqr * 100, one_iqr, 2 * iqr * 100, two_iqr);
  EXPECT_GT(one_iqr, 0);
  EXPECT_LE(one_iqr, 30);
  EXPECT_GT(two_iqr, 0);
  EXPECT_LE(two_iqr, 10);
}

TEST(StatsCalibrationTest, DISABLED_FullRepetitionsTable) {
  std::cout << RepetitionsTable({0.02, 0.05, 0.10, 0.20}, {0.02, 0.05, 0.10, 0.20}, 5000, 500);
}

}  // namespace
}  // namespace rcbench::controller
