#pragma once

// A log-linear latency histogram (HdrHistogram-like) with exactly the bucket layout documented
// on rcbench.v1.LatencyHistogram (proto/rcbench/v1/common.proto):
//
//   with S = sub_bucket_bits and H = 2^(S-1), a value v < 2^S is counted in bucket v;
//   otherwise, with b = floor(log2(v)) - (S - 1), in bucket b * H + (v >> b), of width 2^b.
//
// Every bucket is at most 1/H of its lower bound wide, so with the default S = 8 any recorded
// value is known to within 0.8% over the whole uint64 range (1 ns to ~292 years), which covers
// the 1 µs .. 60 s latencies rcbench measures with room to spare. Histograms with the same S
// merge losslessly by adding counts per bucket, and ToProto/FromProto round-trip exactly.
//
// Values are nanoseconds. Recording is O(1) and never allocates (the bucket array is sized for
// the whole uint64 range at construction: (66 - S) * 2^(S-1) counters, 58 KiB for S = 8).
//
// Thread safety: thread-compatible (const methods may run concurrently; anything that writes
// needs external synchronisation). Each load-generator worker owns its own histograms and
// merges them into a snapshot.

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench {

class LatencyHistogram {
 public:
  static constexpr uint32_t kDefaultSubBucketBits = 8;
  // Supported range of S; larger S would need a dense array of many megabytes.
  static constexpr uint32_t kMinSubBucketBits = 1;
  static constexpr uint32_t kMaxSubBucketBits = 16;

  // The usual percentiles of a latency distribution, in nanoseconds (0 when empty).
  struct Percentiles {
    uint64_t p50_ns = 0;
    uint64_t p90_ns = 0;
    uint64_t p99_ns = 0;
    uint64_t p999_ns = 0;
    uint64_t max_ns = 0;
  };

  // An empty histogram with the default S = 8.
  LatencyHistogram();
  // An empty histogram with S = sub_bucket_bits. INVALID_ARGUMENT outside
  // [kMinSubBucketBits, kMaxSubBucketBits].
  static absl::StatusOr<LatencyHistogram> Create(uint32_t sub_bucket_bits);

  // Counts one value (or `count` equal values).
  void Record(uint64_t value_ns) { RecordN(value_ns, 1); }
  void RecordN(uint64_t value_ns, uint64_t count);

  // Adds every count of `other` to this one. INVALID_ARGUMENT (and no change) if the two
  // were built with different sub_bucket_bits.
  absl::Status Merge(const LatencyHistogram& other);

  // Empties the histogram, keeping S.
  void Reset();

  uint32_t sub_bucket_bits() const { return sub_bucket_bits_; }
  uint64_t total_count() const { return total_count_; }
  // Exact extremes and sum of the values recorded (0 when empty).
  uint64_t min_ns() const { return total_count_ == 0 ? 0 : min_ns_; }
  uint64_t max_ns() const { return max_ns_; }
  uint64_t sum_ns() const { return sum_ns_; }
  double mean_ns() const;

  // The value at percentile `percentile` (0..100, clamped): the midpoint of the bucket holding
  // the ceil(percentile/100 * total)-th smallest value, clamped to [min, max]; 100 gives the
  // exact max. 0 when empty.
  uint64_t ValueAtPercentile(double percentile) const;
  Percentiles GetPercentiles() const;

  // Lossless encoding (see the proto's comment); only non-empty buckets are written.
  rcbench::v1::LatencyHistogram ToProto() const;
  void ToProto(rcbench::v1::LatencyHistogram* out) const;
  // Decodes and validates: S in range, parallel arrays of equal length, indexes strictly
  // increasing and inside the layout, no zero counts, total_count equal to the sum of counts,
  // min/max inside the first/last non-empty bucket, sum between total*min and total*max.
  // Anything else is INVALID_ARGUMENT naming the field (and the position) at fault.
  // A message with every field unset (as in a ClassStats that had no latency to report)
  // decodes to an empty histogram with the default S.
  static absl::StatusOr<LatencyHistogram> FromProto(const rcbench::v1::LatencyHistogram& proto);

  // The layout, exposed for tests and for readers of raw protos.
  static uint32_t BucketIndex(uint64_t value_ns, uint32_t sub_bucket_bits);
  static uint64_t BucketLowerBound(uint32_t index, uint32_t sub_bucket_bits);
  static uint64_t BucketWidth(uint32_t index, uint32_t sub_bucket_bits);
  static uint32_t BucketCount(uint32_t sub_bucket_bits);

  friend bool operator==(const LatencyHistogram& a, const LatencyHistogram& b);

 private:
  explicit LatencyHistogram(uint32_t sub_bucket_bits);

  uint32_t sub_bucket_bits_;
  std::vector<uint64_t> counts_;
  uint64_t total_count_ = 0;
  uint64_t min_ns_ = UINT64_MAX;
  uint64_t max_ns_ = 0;
  uint64_t sum_ns_ = 0;
};

}  // namespace rcbench
