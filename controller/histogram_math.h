#pragma once

// Merging and percentiles of rcbench.v1.LatencyHistogram messages as the controller needs
// them for per-run class results; a thin layer over rcbench::LatencyHistogram
// (common/histogram.h), which validates what peers send.

#include "absl/status/status.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::controller {

// Adds `from` into `into`. INVALID_ARGUMENT when either is malformed or their sub_bucket_bits
// differ (then `into` is unchanged).
absl::Status MergeHistogram(const rcbench::v1::LatencyHistogram& from,
                            rcbench::v1::LatencyHistogram* into);

// The value at quantile q in [0, 1], in ns (the midpoint of the bucket holding it, clamped to
// the exact min/max). 0 for an empty or malformed histogram.
double HistogramQuantileNs(const rcbench::v1::LatencyHistogram& h, double q);

}  // namespace rcbench::controller
