#pragma once

// Merging and percentiles of rcbench.v1.LatencyHistogram messages (the log-linear layout
// documented in common.proto), as the controller needs them for per-run class results.

#include <cstdint>

#include "absl/status/status.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::controller {

// Adds `from` into `into`. INVALID_ARGUMENT when both are non-empty with different
// sub_bucket_bits or when `from` is malformed (unsorted or mismatched arrays).
absl::Status MergeHistogram(const rcbench::v1::LatencyHistogram& from,
                            rcbench::v1::LatencyHistogram* into);

// The value at quantile q in [0, 1], in ns: the midpoint of the bucket holding it, clamped to
// the exact min/max. 0 for an empty histogram.
double HistogramQuantileNs(const rcbench::v1::LatencyHistogram& h, double q);

// Lower bound and width (ns) of a bucket index for sub_bucket_bits s.
void BucketRange(uint32_t index, uint32_t s, uint64_t* lower, uint64_t* width);

}  // namespace rcbench::controller
