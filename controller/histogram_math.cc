#include "controller/histogram_math.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace rcbench::controller {

void BucketRange(uint32_t index, uint32_t s, uint64_t* lower, uint64_t* width) {
  const uint64_t half = uint64_t{1} << (s - 1);
  if (index < 2 * half) {
    *lower = index;
    *width = 1;
    return;
  }
  const uint64_t b = index / half - 1;
  const uint64_t m = index - b * half;
  *lower = m << b;
  *width = uint64_t{1} << b;
}

absl::Status MergeHistogram(const rcbench::v1::LatencyHistogram& from,
                            rcbench::v1::LatencyHistogram* into) {
  if (from.total_count() == 0) return absl::OkStatus();
  if (from.bucket_index_size() != from.bucket_count_size()) {
    return absl::InvalidArgumentError("histogram: bucket_index and bucket_count differ in size");
  }
  uint32_t s = from.sub_bucket_bits() ? from.sub_bucket_bits() : 8;
  if (into->total_count() == 0) {
    uint64_t total = 0;
    for (uint64_t c : from.bucket_count()) total += c;
    *into = from;
    into->set_sub_bucket_bits(s);
    into->set_total_count(total);
    return absl::OkStatus();
  }
  if (into->sub_bucket_bits() != s) {
    return absl::InvalidArgumentError("histogram: cannot merge different sub_bucket_bits");
  }
  std::map<uint32_t, uint64_t> counts;
  for (int i = 0; i < into->bucket_index_size(); ++i) {
    counts[into->bucket_index(i)] += into->bucket_count(i);
  }
  for (int i = 0; i < from.bucket_index_size(); ++i) {
    counts[from.bucket_index(i)] += from.bucket_count(i);
  }
  uint64_t min_ns = std::min(into->min_ns(), from.min_ns());
  uint64_t max_ns = std::max(into->max_ns(), from.max_ns());
  uint64_t sum_ns = into->sum_ns() + from.sum_ns();
  into->clear_bucket_index();
  into->clear_bucket_count();
  uint64_t total = 0;
  for (const auto& [index, count] : counts) {
    if (count == 0) continue;
    into->add_bucket_index(index);
    into->add_bucket_count(count);
    total += count;
  }
  into->set_total_count(total);
  into->set_min_ns(min_ns);
  into->set_max_ns(max_ns);
  into->set_sum_ns(sum_ns);
  return absl::OkStatus();
}

double HistogramQuantileNs(const rcbench::v1::LatencyHistogram& h, double q) {
  uint64_t total = 0;
  for (uint64_t c : h.bucket_count()) total += c;
  if (total == 0 || h.bucket_index_size() != h.bucket_count_size()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint32_t s = h.sub_bucket_bits() ? h.sub_bucket_bits() : 8;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * total)));
  uint64_t seen = 0;
  for (int i = 0; i < h.bucket_index_size(); ++i) {
    seen += h.bucket_count(i);
    if (seen >= rank) {
      uint64_t lower, width;
      BucketRange(h.bucket_index(i), s, &lower, &width);
      double v = static_cast<double>(lower) + static_cast<double>(width - 1) / 2.0;
      if (h.max_ns() > 0) v = std::min(v, static_cast<double>(h.max_ns()));
      v = std::max(v, static_cast<double>(h.min_ns()));
      return v;
    }
  }
  return static_cast<double>(h.max_ns());
}

}  // namespace rcbench::controller
