#include "controller/histogram_math.h"

#include <gtest/gtest.h>

namespace rcbench::controller {
namespace {

rcbench::v1::LatencyHistogram Exact(std::vector<std::pair<uint32_t, uint64_t>> buckets) {
  rcbench::v1::LatencyHistogram h;
  h.set_sub_bucket_bits(8);
  uint64_t total = 0, sum = 0;
  for (auto [i, c] : buckets) {
    h.add_bucket_index(i);
    h.add_bucket_count(c);
    total += c;
    sum += i * c;
  }
  h.set_total_count(total);
  h.set_sum_ns(sum);
  h.set_min_ns(buckets.front().first);
  h.set_max_ns(buckets.back().first);
  return h;
}

TEST(HistogramMathTest, QuantilesOfExactValues) {
  auto h = Exact({{10, 50}, {20, 40}, {30, 10}});
  EXPECT_EQ(HistogramQuantileNs(h, 0.5), 10);
  EXPECT_EQ(HistogramQuantileNs(h, 0.9), 20);
  EXPECT_EQ(HistogramQuantileNs(h, 0.99), 30);
}

TEST(HistogramMathTest, EmptyHistogramHasZeroQuantiles) {
  EXPECT_EQ(HistogramQuantileNs(rcbench::v1::LatencyHistogram(), 0.5), 0);
}

TEST(HistogramMathTest, MergeAddsCountsPerBucket) {
  auto a = Exact({{10, 1}, {20, 2}});
  auto b = Exact({{20, 3}, {30, 4}});
  rcbench::v1::LatencyHistogram m;
  ASSERT_TRUE(MergeHistogram(a, &m).ok());
  ASSERT_TRUE(MergeHistogram(b, &m).ok());
  EXPECT_EQ(m.total_count(), 10u);
  ASSERT_EQ(m.bucket_index_size(), 3);
  EXPECT_EQ(m.bucket_count(1), 5u);
  EXPECT_EQ(m.min_ns(), 10u);
  EXPECT_EQ(m.max_ns(), 30u);
}

TEST(HistogramMathTest, MalformedHistogramIsRejectedAndLeavesTheSumAlone) {
  auto a = Exact({{10, 1}});
  auto bad = Exact({{20, 1}, {10, 1}});  // indexes not increasing
  rcbench::v1::LatencyHistogram m = a;
  EXPECT_FALSE(MergeHistogram(bad, &m).ok());
  EXPECT_EQ(m.total_count(), 1u);
}

TEST(HistogramMathTest, MergingDifferentLayoutsIsRejected) {
  auto a = Exact({{10, 1}});
  auto b = Exact({{10, 1}});
  b.set_sub_bucket_bits(6);
  rcbench::v1::LatencyHistogram m = a;
  EXPECT_FALSE(MergeHistogram(b, &m).ok());
}

}  // namespace
}  // namespace rcbench::controller
