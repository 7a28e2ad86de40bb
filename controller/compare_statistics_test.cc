#include "controller/compare_statistics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rcbench::controller {
namespace {

TEST(StatsTest, MedianOfOddAndEvenSamples) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(Median({})));
}

TEST(MannWhitneyTest, SeparatedSamplesOfThreeGiveExactPOfOneTenth) {
  // All 20 arrangements equally likely; U = 0 or 9 are the two most extreme: p = 2/20.
  auto r = MannWhitneyU({1, 2, 3}, {4, 5, 6});
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.u, 0);
  EXPECT_NEAR(r.p_value, 0.1, 1e-12);
}

TEST(MannWhitneyTest, SeparatedSamplesOfFiveGiveExactP) {
  auto r = MannWhitneyU({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5});
  EXPECT_EQ(r.u, 25);
  EXPECT_NEAR(r.p_value, 2.0 / 252.0, 1e-12);  // 2 / C(10, 5)
}

TEST(MannWhitneyTest, InterleavedSamplesMatchScipyExact) {
  // scipy.stats.mannwhitneyu([1,3,5], [2,4,6], method="exact") -> U=3, p=0.7
  auto r = MannWhitneyU({1, 3, 5}, {2, 4, 6});
  EXPECT_EQ(r.u, 3);
  EXPECT_NEAR(r.p_value, 0.7, 1e-12);
}

TEST(MannWhitneyTest, TiesUseNormalApproximationWithCorrections) {
  // scipy.stats.mannwhitneyu([1,1,2], [2,3,3], method="asymptotic") -> U=0.5, p=0.1101
  // (tie-corrected variance 4.8, continuity correction 0.5).
  auto r = MannWhitneyU({1, 1, 2}, {2, 3, 3});
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.u, 0.5);
  EXPECT_NEAR(r.p_value, 0.11014, 1e-4);
}

TEST(MannWhitneyTest, LargeSamplesUseNormalApproximation) {
  std::vector<double> x, y;
  for (int i = 1; i <= 25; ++i) x.push_back(i), y.push_back(25 + i);
  auto r = MannWhitneyU(x, y);
  EXPECT_FALSE(r.exact);
  // z = (312.5 - 0.5) / sqrt(25*25*51/12) = 6.0536 -> p = erfc(z / sqrt 2)
  EXPECT_NEAR(r.p_value, 1.4156562e-09, 1e-14);
}

TEST(MannWhitneyTest, IdenticalSamplesGivePOfOne) {
  EXPECT_NEAR(MannWhitneyU({5, 5, 5}, {5, 5, 5}).p_value, 1.0, 1e-12);
}

TEST(BootstrapTest, ConstantSamplesGiveADegenerateInterval) {
  auto ci = BootstrapChangeCi({10, 10, 10}, {12, 12, 12});
  EXPECT_NEAR(ci.low, 0.2, 1e-12);
  EXPECT_NEAR(ci.high, 0.2, 1e-12);
}

TEST(BootstrapTest, KnownResamplingDistributionGivesItsPercentiles) {
  // Candidate {1, 3}: resampled medians are 1, 2, 3 with probabilities 1/4, 1/2, 1/4 against a
  // baseline median of 1, so the change is 0, 1 or 2: the 2.5th and 97.5th percentiles are 0
  // and 2.
  auto ci = BootstrapChangeCi({1, 1}, {1, 3}, 0.95, 4000, 3);
  EXPECT_NEAR(ci.low, 0.0, 1e-12);
  EXPECT_NEAR(ci.high, 2.0, 1e-12);
}

TEST(BootstrapTest, IsDeterministicForASeed) {
  std::vector<double> b = {1, 5, 2, 8, 3}, c = {2, 6, 3, 9, 9};
  auto one = BootstrapChangeCi(b, c, 0.95, 500, 9);
  auto two = BootstrapChangeCi(b, c, 0.95, 500, 9);
  EXPECT_EQ(one.low, two.low);
  EXPECT_EQ(one.high, two.high);
}

TEST(BootstrapTest, IntervalContainsTheTrueChangeOfShiftedSamples) {
  std::vector<double> b, c;
  for (int i = 0; i < 101; ++i) b.push_back(100 + i), c.push_back(1.5 * (100 + i));
  auto ci = BootstrapChangeCi(b, c);
  EXPECT_LT(ci.low, 0.5);
  EXPECT_GT(ci.high, 0.5);
  EXPECT_GT(ci.low, 0.3);
  EXPECT_LT(ci.high, 0.7);
}

MetricRule Higher(double min_effect) { return {Direction::kHigherIsBetter, min_effect}; }
MetricRule Lower(double min_effect) { return {Direction::kLowerIsBetter, min_effect}; }

TEST(VerdictTest, TooFewValuesIsUnknownAndAsksForMore) {
  auto c = CompareSamples("m", {1}, {2, 3}, Higher(0.05));
  EXPECT_EQ(c.verdict, Verdict::kUnknown);
  EXPECT_EQ(c.more_repetitions, 4);  // 5 per side can reach p < 0.02
}

TEST(VerdictTest, LargeSignificantIncreaseOfHigherIsBetterMetricIsBetter) {
  auto c = CompareSamples("m", {100, 101, 99, 100, 102, 98}, {120, 121, 119, 122, 118, 120},
                          Higher(0.05));
  EXPECT_EQ(c.verdict, Verdict::kBetter);
  EXPECT_NEAR(c.change, 0.2, 1e-9);
  EXPECT_LT(c.p_value, 0.05);
  EXPECT_GT(c.change_ci.low, 0);
}

TEST(VerdictTest, LargeSignificantIncreaseOfLowerIsBetterMetricIsWorse) {
  auto c = CompareSamples("m", {100, 101, 99, 100, 102, 98}, {120, 121, 119, 122, 118, 120},
                          Lower(0.05));
  EXPECT_EQ(c.verdict, Verdict::kWorse);
}

TEST(VerdictTest, SignificantChangeBelowMinimumEffectIsSame) {
  auto c = CompareSamples("m", {100, 100.1, 99.9, 100, 100.05, 99.95},
                          {101, 101.1, 100.9, 101, 101.05, 100.95}, Higher(0.05));
  EXPECT_LT(c.p_value, 0.05);
  EXPECT_EQ(c.verdict, Verdict::kSame);
}

TEST(VerdictTest, TightIntervalAroundZeroIsSame) {
  auto c = CompareSamples("m", {100, 101, 99, 100}, {100, 100.5, 99.5, 100.2}, Higher(0.05));
  EXPECT_EQ(c.verdict, Verdict::kSame);
}

TEST(VerdictTest, NoisySamplesAreUnknownWithARepetitionEstimate) {
  auto c = CompareSamples("m", {50, 150, 100}, {60, 160, 90}, Higher(0.05));
  EXPECT_EQ(c.verdict, Verdict::kUnknown);
  EXPECT_GT(c.more_repetitions, 1);
  EXPECT_NE(c.reason.find("more repetitions"), std::string::npos);
}

TEST(VerdictTest, LargeButNotYetSignificantChangeWantsFewMoreRepetitions) {
  // Fully separated samples of 3 cannot reach p < 0.02 (exact p = 0.1): two more each can
  // (2 / C(10, 5) = 0.0079).
  auto c = CompareSamples("m", {100, 101, 102}, {150, 151, 152}, Higher(0.05));
  EXPECT_EQ(c.verdict, Verdict::kUnknown);
  EXPECT_NEAR(c.p_value, 0.1, 1e-12);
  EXPECT_EQ(c.more_repetitions, 2);
}

TEST(VerdictTest, ZeroBaselineIsUnknownUnlessBothAreZero) {
  EXPECT_EQ(CompareSamples("m", {0, 0}, {0, 0}, Lower(0.05)).verdict, Verdict::kSame);
  EXPECT_EQ(CompareSamples("m", {0, 0}, {1, 2}, Lower(0.05)).verdict, Verdict::kUnknown);
}

TEST(HolmTest, AdjustsStepDownAndKeepsTheOrder) {
  // Sorted: 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, then max(0.06, 0.04 * 1) = 0.06.
  std::vector<double> adjusted = HolmAdjust({0.01, 0.04, 0.03});
  ASSERT_EQ(adjusted.size(), 3u);
  EXPECT_NEAR(adjusted[0], 0.03, 1e-12);
  EXPECT_NEAR(adjusted[1], 0.06, 1e-12);
  EXPECT_NEAR(adjusted[2], 0.06, 1e-12);
}

TEST(HolmTest, NanIsLeftOutOfTheFamily) {
  std::vector<double> adjusted = HolmAdjust({0.01, std::nan(""), 0.5});
  EXPECT_NEAR(adjusted[0], 0.02, 1e-12);
  EXPECT_TRUE(std::isnan(adjusted[1]));
  EXPECT_NEAR(adjusted[2], 0.5, 1e-12);
}

TEST(HolmTest, AdjustedPIsCappedAtOne) { EXPECT_EQ(HolmAdjust({0.6, 0.7})[0], 1.0); }

TEST(MinRepetitionsTest, FullySeparatedSamplesReachTheLevel) {
  EXPECT_EQ(MinRepetitionsForSignificance(0.05), 4);   // 2/70 = 0.029
  EXPECT_EQ(MinRepetitionsForSignificance(0.02), 5);   // 2/252 = 0.0079
  EXPECT_EQ(MinRepetitionsForSignificance(0.005), 6);  // 2/924 = 0.0022
}

TEST(CombineVerdictsTest, WorseWinsThenBetterThenUnknown) {
  using V = Verdict;
  EXPECT_EQ(CombineVerdicts({V::kSame, V::kWorse, V::kBetter}), V::kWorse);
  EXPECT_EQ(CombineVerdicts({V::kSame, V::kUnknown, V::kBetter}), V::kBetter);
  EXPECT_EQ(CombineVerdicts({V::kSame, V::kUnknown}), V::kUnknown);
  EXPECT_EQ(CombineVerdicts({V::kSame, V::kSame}), V::kSame);
  EXPECT_EQ(CombineVerdicts({}), V::kSame);
}

TEST(FamilyTest, BarelySignificantCellIsWorseAloneButNotAmongThree) {
  // Fully separated samples of 5: p = 0.0079 < 0.02 alone; Holm over 3 cells makes it 0.024.
  std::vector<double> b = {100, 101, 102, 103, 104}, c = {120, 121, 122, 123, 124};
  EXPECT_EQ(CompareSamples("m", b, c, Lower(0.05)).verdict, Verdict::kWorse);
  std::vector<MetricComparison> family(3, MeasureSamples("m", b, c));
  DecideFamily(Lower(0.05), family);
  for (const auto& m : family) {
    EXPECT_EQ(m.verdict, Verdict::kUnknown);
    EXPECT_NEAR(m.p_adjusted, 3 * 2.0 / 252, 1e-12);
    EXPECT_EQ(m.family_size, 3u);
    EXPECT_EQ(m.more_repetitions, 1);  // 6 per side reach 0.02 / 3
  }
}

TEST(FamilyTest, UntestableCellsAreNotCountedInTheCorrection) {
  std::vector<double> b = {100, 101, 102, 103, 104}, c = {120, 121, 122, 123, 124};
  std::vector<MetricComparison> family = {MeasureSamples("m", b, c), MeasureSamples("m", b, {}),
                                          MeasureSamples("m", {}, c)};
  DecideFamily(Lower(0.05), family);
  EXPECT_EQ(family[0].verdict, Verdict::kWorse);
  EXPECT_EQ(family[0].family_size, 1u);
  EXPECT_EQ(family[1].verdict, Verdict::kUnknown);
  EXPECT_EQ(family[1].reason, "no values on the candidate side");
  EXPECT_EQ(family[2].reason, "no values on the baseline side");
}

}  // namespace
}  // namespace rcbench::controller
