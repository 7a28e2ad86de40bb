#include "controller/changepoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>
#include <vector>

namespace rcbench::controller {
namespace {

// `n` points of mean 100 and 5% Gaussian noise.
std::vector<double> Noisy(std::mt19937_64& rng, int n, double mean = 100) {
  std::normal_distribution<double> noise(0, 0.05 * mean);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(mean + noise(rng));
  return out;
}

std::vector<double> Concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool HasChangePointNear(const ChangePointResult& r, size_t index, size_t tolerance = 1) {
  for (const auto& p : r.change_points) {
    if (p.index + tolerance >= index && p.index <= index + tolerance) return true;
  }
  return false;
}

TEST(StudentTTest, TwoSidedPValuesMatchTheTables) {
  EXPECT_NEAR(StudentTTwoSidedP(2.228139, 10), 0.05, 1e-6);
  EXPECT_NEAR(StudentTTwoSidedP(3.169273, 10), 0.01, 1e-6);
  EXPECT_NEAR(StudentTTwoSidedP(-2.570582, 5), 0.05, 1e-6);
  EXPECT_NEAR(StudentTTwoSidedP(12.7062, 1), 0.05, 1e-5);
  EXPECT_NEAR(StudentTTwoSidedP(0, 7), 1, 1e-12);
}

TEST(WelchTTest, UsesEachSidesVarianceAndTheWelchSatterthwaiteDegreesOfFreedom) {
  // Means 3 and 7, variances 2.5 and 10: t = 4 / sqrt(0.5 + 2), df = 2.5^2 / (0.5^2/4 + 2^2/4).
  WelchResult w = WelchTTest({1, 2, 3, 4, 5}, {3, 5, 7, 9, 11});
  EXPECT_NEAR(w.t, 4 / std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(w.df, 6.25 / 1.0625, 1e-12);
  EXPECT_NEAR(w.p_value, StudentTTwoSidedP(w.t, w.df), 1e-15);
}

TEST(WelchTTest, TwoConstantSidesAreEqualOrCertainlyDifferent) {
  EXPECT_EQ(WelchTTest({1, 1, 1}, {1, 1}).p_value, 1);
  EXPECT_EQ(WelchTTest({1, 1, 1}, {2, 2}).p_value, 0);
}

TEST(FindChangePoints, OptionsOutOfRangeAreInvalid) {
  EXPECT_EQ(FindChangePoints({1, 2, 3}, {0, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindChangePoints({1, 2, 3}, {1, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindChangePoints({1, 2, 3}, {0.001, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindChangePoints({1, NAN, 3}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FindChangePoints, ResultCarriesTheParameters) {
  auto r = FindChangePoints({1, 2, 3}, {0.01, 4});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->options.max_p_value, 0.01);
  EXPECT_EQ(r->options.min_segment, 4);
  EXPECT_EQ(r->n, 3u);
  EXPECT_TRUE(r->change_points.empty());
}

TEST(FindChangePoints, ConstantSeriesHasNone) {
  auto r = FindChangePoints(std::vector<double>(30, 5.0));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->change_points.empty());
}

TEST(FindChangePoints, CleanStepIsFoundWithItsMeansAndRelativeChange) {
  std::vector<double> s = {10, 10, 10, 10, 10, 11, 11, 11, 11, 11};
  s[1] = 10.1;  // some variance, so p is finite
  s[7] = 10.9;
  auto r = FindChangePoints(s);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->change_points.size(), 1u);
  const ChangePoint& p = r->change_points[0];
  EXPECT_EQ(p.index, 5u);
  EXPECT_EQ(p.n_before, 5u);
  EXPECT_EQ(p.n_after, 5u);
  EXPECT_NEAR(p.mean_before, 10.02, 1e-9);
  EXPECT_NEAR(p.mean_after, 10.98, 1e-9);
  EXPECT_NEAR(p.relative_change, 10.98 / 10.02 - 1, 1e-9);
  EXPECT_LE(p.p_value, 0.001);
  EXPECT_GT(p.t, 0);
}

// The t-test is made on the split E-divisive chose as the best of the segment, so its p-value
// is optimistic: with 20-40 points and min_segment 3 about 2-4% of stationary series get a
// "change" at p <= 0.001, mostly a 3-5 point segment at an end whose few values happen to lie
// close together (Welch's variance of 3 points is unreliable). Otava and Hunter share this.
constexpr double kStationaryFalseAlarmBound = 0.05;

TEST(FindChangePoints, StationaryGaussianSeriesRarelyHaveOne) {
  std::mt19937_64 rng(15);
  std::uniform_int_distribution<int> length(20, 40);
  int flagged = 0;
  constexpr int kSeries = 1000;
  for (int i = 0; i < kSeries; ++i) {
    auto r = FindChangePoints(Noisy(rng, length(rng)));
    ASSERT_TRUE(r.ok()) << r.status();
    flagged += !r->change_points.empty();
  }
  std::cout << "stationary, 5% Gaussian noise, 20-40 points: change flagged in " << flagged
            << " of " << kSeries << " series\n";
  EXPECT_LE(flagged, kSeries * kStationaryFalseAlarmBound);
}

TEST(FindChangePoints, StationaryHeavyTailedSeriesRarelyHaveOne) {
  std::mt19937_64 rng(16);
  std::uniform_int_distribution<int> length(20, 40);
  // Student's t with 3 degrees of freedom (variance 3), scaled to a 5% standard deviation.
  std::student_t_distribution<double> t3(3);
  int flagged = 0;
  constexpr int kSeries = 1000;
  for (int i = 0; i < kSeries; ++i) {
    std::vector<double> s;
    for (int j = length(rng); j > 0; --j) s.push_back(100 + 5 / std::sqrt(3.0) * t3(rng));
    auto r = FindChangePoints(s);
    ASSERT_TRUE(r.ok()) << r.status();
    flagged += !r->change_points.empty();
  }
  std::cout << "stationary, heavy-tailed (t3) 5% noise, 20-40 points: change flagged in " << flagged
            << " of " << kSeries << " series\n";
  EXPECT_LE(flagged, kSeries * kStationaryFalseAlarmBound);
}

TEST(FindChangePoints, ALongerMinimumSegmentFlagsFewerStationarySeries) {
  std::mt19937_64 rng(21);
  std::uniform_int_distribution<int> length(20, 40);
  int flagged3 = 0, flagged5 = 0;
  constexpr int kSeries = 1000;
  for (int i = 0; i < kSeries; ++i) {
    auto s = Noisy(rng, length(rng));
    flagged3 += !FindChangePoints(s, {0.001, 3})->change_points.empty();
    flagged5 += !FindChangePoints(s, {0.001, 5})->change_points.empty();
  }
  std::cout << "stationary, 5% Gaussian noise: flagged in " << flagged3 << " (min_segment 3) and "
            << flagged5 << " (min_segment 5) of " << kSeries << " series\n";
  EXPECT_LT(flagged5, flagged3);
}

TEST(FindChangePoints, ASingleOutlierIsNotAChangePoint) {
  std::mt19937_64 rng(17);
  int flagged = 0;
  constexpr int kSeries = 1000;
  for (int i = 0; i < kSeries; ++i) {
    std::vector<double> s = Noisy(rng, 30);
    s[std::uniform_int_distribution<size_t>(0, s.size() - 1)(rng)] *= 2;
    auto r = FindChangePoints(s);
    ASSERT_TRUE(r.ok()) << r.status();
    flagged += !r->change_points.empty();
  }
  std::cout << "one outlier (2x) in 30 points at 5% noise: change flagged in " << flagged << " of "
            << kSeries << " series\n";
  EXPECT_LE(flagged, kSeries / 100);
}

// Share of series with a 10% step at 5% noise, `per_side` points either side, in which a change
// point is found within `tolerance` of the step.
double StepDetectionRate(int per_side, double max_p_value, uint64_t seed, size_t tolerance = 3) {
  std::mt19937_64 rng(seed);
  int found = 0;
  constexpr int kSeries = 1000;
  for (int i = 0; i < kSeries; ++i) {
    auto r =
        FindChangePoints(Concat(Noisy(rng, per_side), Noisy(rng, per_side, 110)), {max_p_value, 3});
    found += r.ok() && HasChangePointNear(*r, per_side, tolerance);
  }
  return static_cast<double>(found) / kSeries;
}

TEST(FindChangePoints, TenPercentStepAtFivePercentNoiseIsFoundWithTwentyPointsASide) {
  // A step of two standard deviations is nearly always detected with 20 points a side, but the
  // energy statistic places it within +-1 only about 80% of the time (measured).
  const double within1 = StepDetectionRate(20, 0.001, 18, 1);
  const double within3 = StepDetectionRate(20, 0.001, 18, 3);
  std::cout << "10% step, 5% noise, 20 points a side, p <= 0.001: found at index +-1 in "
            << within1 * 100 << "%, +-3 in " << within3 * 100 << "% of series\n";
  EXPECT_GE(within3, 0.90);
}

TEST(FindChangePoints, TenPercentStepWithFivePointsASideIsBeyondATestAtTheDefaultLevel) {
  // Not a goal but a limit: with 5 points a side the step is sqrt(10) = 3.16 standard errors of
  // the difference of means, and even an oracle z-test that knew where the step is and the
  // noise would need 3.29 at p <= 0.001 to find it half the time. 12 points a side would be the
  // oracle's 95%; the estimated variance and the search cost more.
  const double strict5 = StepDetectionRate(5, 0.001, 19);
  const double loose5 = StepDetectionRate(5, 0.05, 19);
  const double strict12 = StepDetectionRate(12, 0.001, 19);
  std::cout << "10% step, 5% noise: found in " << strict5 * 100 << "% (5 a side, p <= 0.001), "
            << loose5 * 100 << "% (5 a side, p <= 0.05), " << strict12 * 100
            << "% (12 a side, p <= 0.001) of series\n";
  EXPECT_LT(strict5, 0.5);
  EXPECT_GT(loose5, strict5);
  EXPECT_GT(strict12, strict5);
}

TEST(FindChangePoints, TwoStepsAreBothFound) {
  std::mt19937_64 rng(20);
  int both = 0;
  constexpr int kSeries = 500;
  for (int i = 0; i < kSeries; ++i) {
    // Up 15%, then up another 15%: 20 points each.
    auto s = Concat(Concat(Noisy(rng, 20), Noisy(rng, 20, 115)), Noisy(rng, 20, 132.25));
    auto r = FindChangePoints(s);
    ASSERT_TRUE(r.ok()) << r.status();
    both += HasChangePointNear(*r, 20, 3) && HasChangePointNear(*r, 40, 3);
  }
  std::cout << "two 15% steps up at 5% noise, 20 points each: both found (index +-3) in "
            << 100.0 * both / kSeries << "% of series\n";
  EXPECT_GE(both, kSeries * 95 / 100);
}

TEST(FindChangePoints, AStepUpAndBackDownIsBothChangePoints) {
  std::mt19937_64 rng(22);
  int both = 0;
  constexpr int kSeries = 500;
  for (int i = 0; i < kSeries; ++i) {
    auto s = Concat(Concat(Noisy(rng, 20), Noisy(rng, 20, 115)), Noisy(rng, 20, 100));
    auto r = FindChangePoints(s);
    ASSERT_TRUE(r.ok()) << r.status();
    both += HasChangePointNear(*r, 20, 3) && HasChangePointNear(*r, 40, 3);
  }
  std::cout << "+15% then back at 5% noise, 20 points each: both found (index +-3) in "
            << 100.0 * both / kSeries << "% of series\n";
  EXPECT_GE(both, kSeries * 90 / 100);
}

}  // namespace
}  // namespace rcbench::controller
