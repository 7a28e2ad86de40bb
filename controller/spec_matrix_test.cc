#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "controller/spec.h"
#include "controller/testing/spec_testing.h"

// Factors, zip groups, exclude rules and the limits on the matrix they plan (spec_matrix.cc).

namespace rcbench::controller {
namespace {

using testing::ErrorsOf;
using ::testing::HasSubstr;
using testing::Minimal;

TEST(SpecTest, FactorWithoutLevelsIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  f: []\n"),
              HasSubstr("t.yaml:3:6: factor \"f\" has no levels"));
}

TEST(SpecTest, RepeatedLevelIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  f: [a, a]\n"),
              HasSubstr("t.yaml:3:10: level \"a\" of factor \"f\" is repeated"));
}

TEST(SpecTest, ZippedFactorsMayRepeatLevelsAcrossRows) {
  auto spec = ParseSpec(
      "name: t\nfactors:\n  variant: [x, y, z]\n  containers: [\"off\", \"on\", \"on\"]\n"
      "zip: [[variant, containers]]\n",
      "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->FindFactor("containers")->levels.size(), 3u);
}

TEST(SpecTest, IdenticalZipRowsAreReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  a: [x, x]\n  b: [1, 1]\nzip: [[a, b]]\n"),
              HasSubstr("t.yaml:5:7: zip group rows 1 and 2 are identical (x, 1)"));
}

TEST(SpecTest, ReservedFactorNameIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  server: [a]\n"), HasSubstr("is reserved"));
}

TEST(SpecTest, ZipWithUnknownFactorIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("zip: [[f, g]]\n")),
              HasSubstr("t.yaml:4:7: zip names unknown factor \"g\""));
}

TEST(SpecTest, ZipWithDifferentLevelCountsIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  f: [a, b]\n  g: [1, 2, 3]\nzip: [[f, g]]\n"),
              HasSubstr("t.yaml:5:7: zip group factors have different numbers of levels"));
}

TEST(SpecTest, ZipWithOneFactorIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("zip: [[f]]\n")), HasSubstr("fewer than two factors"));
}

TEST(SpecTest, ExcludeOfUnknownLevelIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("exclude:\n  - {f: c}\n")),
              HasSubstr("t.yaml:5:9: exclude names unknown level \"c\" of factor \"f\"; "
                        "expected one of a, b"));
}

TEST(SpecTest, ExcludeOfUnknownFactorIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("exclude:\n  - {g: a}\n")),
              HasSubstr("t.yaml:5:6: exclude names unknown factor \"g\""));
}

TEST(SpecTest, ExcludingEveryRunIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("exclude:\n  - {f: a}\n  - {f: b}\n")),
              HasSubstr("the exclude rules remove every run"));
}

// Issue #14: hostile specs are refused with positions, before they cost memory or time.

std::string TenMillionRuns() {
  std::string yaml = "name: big\nfactors:\n";
  for (char f = 'a'; f < 'a' + 7; ++f) {
    yaml += std::string("  ") + f + ": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  }
  return yaml;
}

TEST(SpecLimitsTest, AMatrixOverTheRunLimitIsRefusedNamingTheFactorsAndTheCount) {
  EXPECT_THAT(ErrorsOf(TenMillionRuns()),
              HasSubstr("t.yaml:3:3: the factor matrix plans 10000000 runs (a=10 x b=10 x c=10 x "
                        "d=10 x e=10 x f=10 x g=10 x 1 repetitions), more than the limit of "
                        "100000 (--max-planned-runs)"));
}

TEST(SpecLimitsTest, RepetitionsCountTowardsTheRunLimit) {
  SpecLimits limits;
  limits.max_planned_runs = 5;
  auto spec = ParseSpec(Minimal("repetitions: 3\n"), "t.yaml", limits);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("plans 6 runs (f=2 x 3 repetitions)"));
}

TEST(SpecLimitsTest, TheRunLimitIsConfigurable) {
  SpecLimits limits;
  limits.max_planned_runs = 10'000'000;
  std::string yaml =
      "name: big\nfactors:\n  a: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
      "  b: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  EXPECT_TRUE(ParseSpec(yaml, "t.yaml", limits).ok());
  limits.max_planned_runs = 99;
  EXPECT_FALSE(ParseSpec(yaml, "t.yaml", limits).ok());
}

TEST(SpecLimitsTest, AnOverflowingMatrixIsRefusedWithoutWrappingAround) {
  // 16 factors of 16 levels: 2^64 runs, which wraps to 0 in unchecked 64-bit arithmetic.
  std::string yaml = "name: big\nfactors:\n";
  for (int f = 0; f < 16; ++f) {
    yaml += "  f" + std::to_string(f) + ": [";
    for (int l = 0; l < 16; ++l) yaml += (l ? ", " : "") + std::to_string(l);
    yaml += "]\n";
  }
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("plans more than 2^64 runs"));
}

TEST(SpecLimitsTest, TooManyExcludeEntriesAreRefused) {
  SpecLimits limits;
  limits.max_exclude_rules = 1;
  auto spec = ParseSpec(Minimal("exclude:\n  - {f: a}\n  - {f: b}\n"), "t.yaml", limits);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(),
              HasSubstr("t.yaml:5:3: exclude has 2 entries, more than the limit of 1"));
}

TEST(SpecLimitsTest, AFactorWithoutLevelsDoesNotExpandTheOthers) {
  // Found by the fuzzer: the matrix has 0 runs, within the limit, but expanding the ten
  // million combinations of the factors before the empty one took gigabytes.
  std::string errors = ErrorsOf(TenMillionRuns() + "  z: []\n");
  EXPECT_THAT(errors, HasSubstr("t.yaml:10:6: factor \"z\" has no levels"));
}

}  // namespace
}  // namespace rcbench::controller
