#include "controller/matrix.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace rcbench::controller {
namespace {

ExperimentSpec Parse(const std::string& yaml) {
  auto spec = ParseSpec(yaml, "m.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : ExperimentSpec{};
}

TEST(MatrixTest, CartesianProductOfAllFactors) {
  auto spec = Parse("name: m\norder: sequential\nfactors:\n  a: [1, 2]\n  b: [x, y, z]\n");
  auto runs = ExpandMatrix(spec, 0);
  ASSERT_EQ(runs.size(), 6u);
  EXPECT_EQ(runs[0].factors, (std::map<std::string, std::string>{{"a", "1"}, {"b", "x"}}));
  EXPECT_EQ(runs[1].factors, (std::map<std::string, std::string>{{"a", "1"}, {"b", "y"}}));
  EXPECT_EQ(runs[5].factors, (std::map<std::string, std::string>{{"a", "2"}, {"b", "z"}}));
}

TEST(MatrixTest, ZipGroupAdvancesTogether) {
  auto spec = Parse(
      "name: m\norder: sequential\nfactors:\n  a: [1, 2, 3]\n  b: [x, y, z]\n  c: [p, q]\n"
      "zip: [[a, b]]\n");
  auto combos = ExpandCombinations(spec);
  ASSERT_EQ(combos.size(), 6u);
  for (const auto& c : combos) {
    EXPECT_EQ(std::string(1, "xyz"[std::stoi(c.at("a")) - 1]), c.at("b"));
  }
}

TEST(MatrixTest, ExcludeRemovesMatchingCombinations) {
  auto spec = Parse(
      "name: m\nfactors:\n  a: [1, 2]\n  b: [x, y]\nexclude:\n  - {a: 1, b: y}\n  - {a: 2}\n");
  auto combos = ExpandCombinations(spec);
  ASSERT_EQ(combos.size(), 1u);
  EXPECT_EQ(combos[0].at("a"), "1");
  EXPECT_EQ(combos[0].at("b"), "x");
}

TEST(MatrixTest, RepetitionsMultiplyRunsWithDistinctIds) {
  auto spec = Parse("name: m\nfactors:\n  a: [1, 2]\nrepetitions: 3\n");
  auto runs = ExpandMatrix(spec, 5);
  ASSERT_EQ(runs.size(), 6u);
  std::set<std::string> ids;
  for (const auto& r : runs) ids.insert(r.run_id);
  EXPECT_EQ(ids.size(), 6u);
}

TEST(MatrixTest, SameSeedGivesSameOrder) {
  auto spec = Parse("name: m\nfactors:\n  a: [1, 2, 3, 4]\n  b: [x, y]\nrepetitions: 2\n");
  auto one = ExpandMatrix(spec, 42);
  auto two = ExpandMatrix(spec, 42);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one[i].run_id, two[i].run_id);
}

TEST(MatrixTest, DifferentSeedsGiveDifferentOrders) {
  auto spec = Parse("name: m\nfactors:\n  a: [1, 2, 3, 4]\n  b: [x, y]\nrepetitions: 2\n");
  auto one = ExpandMatrix(spec, 1);
  auto two = ExpandMatrix(spec, 2);
  bool differ = false;
  for (size_t i = 0; i < one.size(); ++i) differ |= one[i].run_id != two[i].run_id;
  EXPECT_TRUE(differ);
}

TEST(MatrixTest, SeededOrderIsAKnownPermutation) {
  // Pins the shuffle algorithm: a recorded seed must reproduce the same order forever.
  auto spec = Parse("name: m\nfactors:\n  a: [1, 2, 3, 4]\n");
  auto runs = ExpandMatrix(spec, 7);
  std::string order;
  for (const auto& r : runs) order += r.factors.at("a");
  std::mt19937_64 rng(7);
  std::vector<std::string> expected = {"1", "2", "3", "4"};
  for (size_t i = 3; i > 0; --i) std::swap(expected[i], expected[rng() % (i + 1)]);
  std::string want;
  for (const auto& e : expected) want += e;
  EXPECT_EQ(order, want);
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].order, i);
}

TEST(MatrixTest, RunIdsAreStableAndIndependentOfOrder) {
  auto spec = Parse("name: m\nfactors:\n  a: [1, 2]\n");
  EXPECT_EQ(MakeRunId("m", {{"a", "1"}}, 1), MakeRunId("m", {{"a", "1"}}, 1));
  EXPECT_NE(MakeRunId("m", {{"a", "1"}}, 1), MakeRunId("m", {{"a", "1"}}, 2));
  EXPECT_NE(MakeRunId("m", {{"a", "1"}}, 1), MakeRunId("n", {{"a", "1"}}, 1));
  auto r1 = ExpandMatrix(spec, 1), r2 = ExpandMatrix(spec, 99);
  std::set<std::string> s1, s2;
  for (const auto& r : r1) s1.insert(r.run_id);
  for (const auto& r : r2) s2.insert(r.run_id);
  EXPECT_EQ(s1, s2);
}

TEST(MatrixTest, NoFactorsGivesOneRunPerRepetition) {
  auto spec = Parse("name: m\nrepetitions: 4\n");
  EXPECT_EQ(ExpandMatrix(spec, 0).size(), 4u);
}

TEST(MatrixTest, PlannedRunUpperBoundCountsAZipGroupOnceAndIgnoresExcludes) {
  auto spec = Parse(
      "name: m\nfactors:\n  a: [1, 2, 3]\n  b: [x, y, z]\n  c: [p, q]\nzip: [[a, b]]\n"
      "exclude:\n  - {a: 1, c: p}\nrepetitions: 2\n");
  EXPECT_EQ(PlannedRunUpperBound(spec), 12u);
  EXPECT_EQ(ExpandMatrix(spec, 0).size(), 10u);
  EXPECT_EQ(DescribeMatrixSize(spec), "(a,b)=3 x c=2 x 2 repetitions");
}

TEST(MatrixTest, PlannedRunUpperBoundSaturatesInsteadOfOverflowing) {
  ExperimentSpec spec;
  for (int i = 0; i < 5; ++i) {
    spec.factors.push_back(Factor{"f" + std::to_string(i), std::vector<std::string>(65536), {}});
  }
  spec.repetitions = 1000;
  EXPECT_EQ(PlannedRunUpperBound(spec), UINT64_MAX);
}

}  // namespace
}  // namespace rcbench::controller
