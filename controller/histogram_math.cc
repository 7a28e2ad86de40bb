#include "controller/histogram_math.h"

#include "common/histogram.h"
#include "common/status_macros.h"

namespace rcbench::controller {

absl::Status MergeHistogram(const rcbench::v1::LatencyHistogram& from,
                            rcbench::v1::LatencyHistogram* into) {
  RCBENCH_ASSIGN_OR_RETURN(LatencyHistogram add, LatencyHistogram::FromProto(from));
  if (add.total_count() == 0) return absl::OkStatus();
  RCBENCH_ASSIGN_OR_RETURN(LatencyHistogram sum, LatencyHistogram::FromProto(*into));
  if (sum.total_count() == 0) {
    add.ToProto(into);
    return absl::OkStatus();
  }
  RCBENCH_RETURN_IF_ERROR(sum.Merge(add));
  sum.ToProto(into);
  return absl::OkStatus();
}

double HistogramQuantileNs(const rcbench::v1::LatencyHistogram& h, double q) {
  auto hist = LatencyHistogram::FromProto(h);
  if (!hist.ok()) return 0;
  return static_cast<double>(hist->ValueAtPercentile(q * 100));
}

}  // namespace rcbench::controller
