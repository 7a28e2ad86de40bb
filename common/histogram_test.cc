#include "common/histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace rcbench {
namespace {

using ::testing::HasSubstr;

// Exact nearest-rank percentile of a sorted sample.
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double p) {
  if (p >= 100) return sorted.back();
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::vector<uint64_t> LogUniformSample(size_t n, uint64_t lo, uint64_t hi, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(std::log(static_cast<double>(lo)),
                                              std::log(static_cast<double>(hi)));
  std::vector<uint64_t> out(n);
  for (auto& v : out) v = static_cast<uint64_t>(std::exp(dist(rng)));
  return out;
}

TEST(LatencyHistogramTest, LayoutMatchesTheProtoDocumentation) {
  // S = 8, H = 128: values below 256 are exact, 256 starts b = 1 at index 1 * 128 + 128.
  EXPECT_EQ(LatencyHistogram::BucketIndex(0, 8), 0u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(255, 8), 255u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(256, 8), 256u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(257, 8), 256u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(258, 8), 257u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(512, 8), 384u);
  EXPECT_EQ(LatencyHistogram::BucketIndex(UINT64_MAX, 8), LatencyHistogram::BucketCount(8) - 1);
}

TEST(LatencyHistogramTest, BucketsTileTheRangeWithoutGapsOrOverlap) {
  for (uint32_t s : {1u, 2u, 5u, 8u, 12u}) {
    uint64_t expected_lower = 0;
    for (uint32_t i = 0; i < LatencyHistogram::BucketCount(s); ++i) {
      const uint64_t lower = LatencyHistogram::BucketLowerBound(i, s);
      const uint64_t width = LatencyHistogram::BucketWidth(i, s);
      ASSERT_EQ(lower, expected_lower) << "S=" << s << " index " << i;
      ASSERT_EQ(LatencyHistogram::BucketIndex(lower, s), i);
      ASSERT_EQ(LatencyHistogram::BucketIndex(lower + (width - 1), s), i);
      if (lower >= (uint64_t{1} << s)) {
        ASSERT_LE(width * (uint64_t{1} << (s - 1)), lower) << "bucket wider than 1/H";
      }
      expected_lower = lower + width;  // wraps to 0 after the last bucket
    }
    EXPECT_EQ(expected_lower, 0u) << "S=" << s << " does not reach UINT64_MAX";
  }
}

TEST(LatencyHistogramTest, PercentilesAreWithinOnePercentFromOneMicrosecondToSixtySeconds) {
  auto values = LogUniformSample(200000, 1000, 60'000'000'000, 1);
  LatencyHistogram h;
  for (uint64_t v : values) h.Record(v);
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
    const double exact = static_cast<double>(ExactPercentile(values, p));
    const double got = static_cast<double>(h.ValueAtPercentile(p));
    EXPECT_LE(std::abs(got - exact) / exact, 0.01) << "p" << p;
  }
  EXPECT_EQ(h.max_ns(), values.back());
  EXPECT_EQ(h.min_ns(), values.front());
  EXPECT_EQ(h.ValueAtPercentile(100), values.back());
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.ValueAtPercentile(50), 50u);
  EXPECT_EQ(h.ValueAtPercentile(90), 90u);
  EXPECT_EQ(h.ValueAtPercentile(99), 99u);
  EXPECT_EQ(h.total_count(), 100u);
  EXPECT_EQ(h.sum_ns(), 5050u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 50.5);
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZeros) {
  LatencyHistogram h;
  const auto p = h.GetPercentiles();
  EXPECT_EQ(p.p50_ns, 0u);
  EXPECT_EQ(p.p999_ns, 0u);
  EXPECT_EQ(p.max_ns, 0u);
  EXPECT_EQ(h.min_ns(), 0u);
  EXPECT_EQ(h.mean_ns(), 0.0);
}

TEST(LatencyHistogramTest, GetPercentilesReportsTheFiveUsualPoints) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v * 1000);
  const auto p = h.GetPercentiles();
  EXPECT_NEAR(p.p50_ns, 500'000, 5'000);
  EXPECT_NEAR(p.p90_ns, 900'000, 9'000);
  EXPECT_NEAR(p.p99_ns, 990'000, 9'900);
  EXPECT_NEAR(p.p999_ns, 999'000, 9'990);
  EXPECT_EQ(p.max_ns, 1'000'000u);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  auto a_values = LogUniformSample(5000, 1000, 1'000'000'000, 2);
  auto b_values = LogUniformSample(7000, 500, 60'000'000'000, 3);
  LatencyHistogram a, b, all;
  for (uint64_t v : a_values) a.Record(v), all.Record(v);
  for (uint64_t v : b_values) b.Record(v), all.Record(v);
  ASSERT_TRUE(a.Merge(b).ok());
  EXPECT_EQ(a, all);
}

TEST(LatencyHistogramTest, MergeOfDifferentLayoutsIsRefusedAndChangesNothing) {
  LatencyHistogram a;
  a.Record(1234);
  auto b = LatencyHistogram::Create(6);
  ASSERT_TRUE(b.ok());
  b->Record(99);
  const LatencyHistogram before = a;
  const absl::Status status = a.Merge(*b);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("sub_bucket_bits"));
  EXPECT_EQ(a, before);
}

TEST(LatencyHistogramTest, CreateRejectsUnsupportedSubBucketBits) {
  EXPECT_FALSE(LatencyHistogram::Create(0).ok());
  EXPECT_FALSE(LatencyHistogram::Create(17).ok());
  EXPECT_TRUE(LatencyHistogram::Create(16).ok());
}

TEST(LatencyHistogramTest, ResetEmptiesButKeepsTheLayout) {
  auto h = LatencyHistogram::Create(6);
  ASSERT_TRUE(h.ok());
  h->Record(5000);
  h->Reset();
  EXPECT_EQ(h->total_count(), 0u);
  EXPECT_EQ(h->max_ns(), 0u);
  EXPECT_EQ(h->sub_bucket_bits(), 6u);
}

TEST(LatencyHistogramTest, ProtoRoundTripIsLossless) {
  auto values = LogUniformSample(10000, 1, 60'000'000'000, 4);
  LatencyHistogram h;
  for (uint64_t v : values) h.Record(v);
  const auto proto = h.ToProto();
  EXPECT_EQ(proto.sub_bucket_bits(), 8u);
  EXPECT_EQ(proto.total_count(), 10000u);
  auto decoded = LatencyHistogram::FromProto(proto);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, h);
}

TEST(LatencyHistogramTest, ProtoWritesOnlyNonEmptyBucketsInIncreasingOrder) {
  LatencyHistogram h;
  h.RecordN(1'000'000, 3);
  h.Record(10);
  const auto proto = h.ToProto();
  ASSERT_EQ(proto.bucket_index_size(), 2);
  EXPECT_EQ(proto.bucket_index(0), 10u);
  EXPECT_EQ(proto.bucket_count(0), 1u);
  EXPECT_EQ(proto.bucket_index(1), LatencyHistogram::BucketIndex(1'000'000, 8));
  EXPECT_EQ(proto.bucket_count(1), 3u);
  EXPECT_EQ(proto.min_ns(), 10u);
  EXPECT_EQ(proto.max_ns(), 1'000'000u);
  EXPECT_EQ(proto.sum_ns(), 3'000'010u);
}

TEST(LatencyHistogramTest, EmptyProtoHonoursItsSubBucketBits) {
  auto h = LatencyHistogram::Create(5);
  ASSERT_TRUE(h.ok());
  auto decoded = LatencyHistogram::FromProto(h->ToProto());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->sub_bucket_bits(), 5u);
  EXPECT_EQ(decoded->total_count(), 0u);
}

TEST(LatencyHistogramTest, UnsetProtoDecodesToAnEmptyDefaultHistogram) {
  auto decoded = LatencyHistogram::FromProto(rcbench::v1::LatencyHistogram());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->sub_bucket_bits(), 8u);
  EXPECT_EQ(decoded->total_count(), 0u);
}

// A valid two-bucket proto that the validation tests below each break in one way.
rcbench::v1::LatencyHistogram ValidProto() {
  LatencyHistogram h;
  h.Record(100);
  h.RecordN(5000, 2);
  return h.ToProto();
}

void ExpectRejected(const rcbench::v1::LatencyHistogram& proto, const std::string& words) {
  auto decoded = LatencyHistogram::FromProto(proto);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr(words));
}

TEST(LatencyHistogramTest, FromProtoRejectsIndexesOutOfOrder) {
  auto proto = ValidProto();
  proto.set_bucket_index(1, proto.bucket_index(0));
  ExpectRejected(proto, "strictly increasing");
}

TEST(LatencyHistogramTest, FromProtoRejectsZeroCounts) {
  auto proto = ValidProto();
  proto.set_bucket_count(0, 0);
  proto.set_total_count(2);
  ExpectRejected(proto, "bucket_count[0]");
}

TEST(LatencyHistogramTest, FromProtoRejectsInconsistentTotal) {
  auto proto = ValidProto();
  proto.set_total_count(4);
  ExpectRejected(proto, "total_count is 4 but the bucket counts sum to 3");
}

TEST(LatencyHistogramTest, FromProtoRejectsArraysOfDifferentLength) {
  auto proto = ValidProto();
  proto.add_bucket_count(1);
  ExpectRejected(proto, "parallel");
}

TEST(LatencyHistogramTest, FromProtoRejectsIndexBeyondTheLayout) {
  auto proto = ValidProto();
  proto.set_bucket_index(1, LatencyHistogram::BucketCount(8));
  ExpectRejected(proto, "beyond the last bucket");
}

TEST(LatencyHistogramTest, FromProtoRejectsUnsupportedSubBucketBits) {
  auto proto = ValidProto();
  proto.set_sub_bucket_bits(40);
  ExpectRejected(proto, "sub_bucket_bits 40");
}

TEST(LatencyHistogramTest, FromProtoRejectsMinOutsideTheFirstBucket) {
  auto proto = ValidProto();
  proto.set_min_ns(4000);
  ExpectRejected(proto, "min_ns 4000");
}

TEST(LatencyHistogramTest, FromProtoRejectsMaxOutsideTheLastBucket) {
  auto proto = ValidProto();
  proto.set_max_ns(9000);
  ExpectRejected(proto, "max_ns 9000");
}

TEST(LatencyHistogramTest, FromProtoRejectsImpossibleSum) {
  auto proto = ValidProto();
  proto.set_sum_ns(1);
  ExpectRejected(proto, "sum_ns 1 is impossible");
}

TEST(LatencyHistogramTest, FromProtoRejectsExtremesOnAnEmptyHistogram) {
  rcbench::v1::LatencyHistogram proto;
  proto.set_sub_bucket_bits(8);
  proto.set_max_ns(5);
  ExpectRejected(proto, "must be 0 when total_count is 0");
}

}  // namespace
}  // namespace rcbench
