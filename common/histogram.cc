#include "common/histogram.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace rcbench {

uint32_t LatencyHistogram::BucketIndex(uint64_t value_ns, uint32_t sub_bucket_bits) {
  const uint64_t half = uint64_t{1} << (sub_bucket_bits - 1);
  if (value_ns < 2 * half) return static_cast<uint32_t>(value_ns);
  const uint32_t log2 = 63 - static_cast<uint32_t>(__builtin_clzll(value_ns));
  const uint32_t b = log2 - (sub_bucket_bits - 1);
  return static_cast<uint32_t>(b * half + (value_ns >> b));
}

uint64_t LatencyHistogram::BucketLowerBound(uint32_t index, uint32_t sub_bucket_bits) {
  const uint64_t half = uint64_t{1} << (sub_bucket_bits - 1);
  if (index < 2 * half) return index;
  // Index = b * H + m with m in [H, 2H), so b = index / H - 1.
  const uint64_t b = index / half - 1;
  const uint64_t m = index - b * half;
  return m << b;
}

uint64_t LatencyHistogram::BucketWidth(uint32_t index, uint32_t sub_bucket_bits) {
  const uint64_t half = uint64_t{1} << (sub_bucket_bits - 1);
  if (index < 2 * half) return 1;
  return uint64_t{1} << (index / half - 1);
}

uint32_t LatencyHistogram::BucketCount(uint32_t sub_bucket_bits) {
  // The largest index is that of UINT64_MAX: (64 - S) * H + 2H - 1.
  return (66 - sub_bucket_bits) << (sub_bucket_bits - 1);
}

LatencyHistogram::LatencyHistogram() : LatencyHistogram(kDefaultSubBucketBits) {}

LatencyHistogram::LatencyHistogram(uint32_t sub_bucket_bits)
    : sub_bucket_bits_(sub_bucket_bits), counts_(BucketCount(sub_bucket_bits), 0) {}

absl::StatusOr<LatencyHistogram> LatencyHistogram::Create(uint32_t sub_bucket_bits) {
  if (sub_bucket_bits < kMinSubBucketBits || sub_bucket_bits > kMaxSubBucketBits) {
    return absl::InvalidArgumentError(absl::StrCat("sub_bucket_bits ", sub_bucket_bits,
                                                   " is outside the supported range ",
                                                   kMinSubBucketBits, "..", kMaxSubBucketBits));
  }
  return LatencyHistogram(sub_bucket_bits);
}

void LatencyHistogram::RecordN(uint64_t value_ns, uint64_t count) {
  if (count == 0) return;
  counts_[BucketIndex(value_ns, sub_bucket_bits_)] += count;
  total_count_ += count;
  sum_ns_ += value_ns * count;
  min_ns_ = std::min(min_ns_, value_ns);
  max_ns_ = std::max(max_ns_, value_ns);
}

absl::Status LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.sub_bucket_bits_ != sub_bucket_bits_) {
    return absl::InvalidArgumentError(absl::StrCat("cannot merge histograms with sub_bucket_bits ",
                                                   other.sub_bucket_bits_, " into one with ",
                                                   sub_bucket_bits_));
  }
  if (other.total_count_ == 0) return absl::OkStatus();
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_count_ += other.total_count_;
  sum_ns_ += other.sum_ns_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
  return absl::OkStatus();
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  min_ns_ = UINT64_MAX;
  max_ns_ = 0;
  sum_ns_ = 0;
}

double LatencyHistogram::mean_ns() const {
  return total_count_ == 0 ? 0.0 : static_cast<double>(sum_ns_) / total_count_;
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (total_count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  if (percentile >= 100.0) return max_ns_;
  uint64_t rank =
      static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total_count_)));
  rank = std::clamp<uint64_t>(rank, 1, total_count_);
  uint64_t seen = 0;
  for (uint32_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t mid =
          BucketLowerBound(i, sub_bucket_bits_) + BucketWidth(i, sub_bucket_bits_) / 2;
      return std::clamp(mid, min_ns_, max_ns_);
    }
  }
  return max_ns_;
}

LatencyHistogram::Percentiles LatencyHistogram::GetPercentiles() const {
  Percentiles p;
  p.p50_ns = ValueAtPercentile(50);
  p.p90_ns = ValueAtPercentile(90);
  p.p99_ns = ValueAtPercentile(99);
  p.p999_ns = ValueAtPercentile(99.9);
  p.max_ns = max_ns();
  return p;
}

rcbench::v1::LatencyHistogram LatencyHistogram::ToProto() const {
  rcbench::v1::LatencyHistogram out;
  ToProto(&out);
  return out;
}

void LatencyHistogram::ToProto(rcbench::v1::LatencyHistogram* out) const {
  out->Clear();
  out->set_sub_bucket_bits(sub_bucket_bits_);
  for (uint32_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    out->add_bucket_index(i);
    out->add_bucket_count(counts_[i]);
  }
  out->set_total_count(total_count_);
  out->set_min_ns(min_ns());
  out->set_max_ns(max_ns_);
  out->set_sum_ns(sum_ns_);
}

absl::StatusOr<LatencyHistogram> LatencyHistogram::FromProto(
    const rcbench::v1::LatencyHistogram& proto) {
  const bool all_unset = proto.sub_bucket_bits() == 0 && proto.bucket_index_size() == 0 &&
                         proto.bucket_count_size() == 0 && proto.total_count() == 0 &&
                         proto.min_ns() == 0 && proto.max_ns() == 0 && proto.sum_ns() == 0;
  if (all_unset) return LatencyHistogram();

  auto created = Create(proto.sub_bucket_bits());
  if (!created.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("LatencyHistogram: ", created.status().message()));
  }
  LatencyHistogram h = *std::move(created);
  const uint32_t s = h.sub_bucket_bits_;
  if (proto.bucket_index_size() != proto.bucket_count_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LatencyHistogram: bucket_index has ", proto.bucket_index_size(),
        " entries but bucket_count has ", proto.bucket_count_size(), "; they must be parallel"));
  }
  const uint32_t limit = BucketCount(s);
  unsigned __int128 total = 0;
  for (int i = 0; i < proto.bucket_index_size(); ++i) {
    const uint32_t index = proto.bucket_index(i);
    const uint64_t count = proto.bucket_count(i);
    if (index >= limit) {
      return absl::InvalidArgumentError(absl::StrCat("LatencyHistogram: bucket_index[", i,
                                                     "] = ", index, " is beyond the last bucket (",
                                                     limit - 1, ") for sub_bucket_bits ", s));
    }
    if (i > 0 && index <= proto.bucket_index(i - 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "LatencyHistogram: bucket_index must be strictly increasing, but bucket_index[", i,
          "] = ", index, " follows ", proto.bucket_index(i - 1)));
    }
    if (count == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("LatencyHistogram: bucket_count[", i, "] (bucket ", index, ") is 0"));
    }
    h.counts_[index] = count;
    total += count;
  }
  if (total != proto.total_count()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LatencyHistogram: total_count is ", proto.total_count(), " but the bucket counts sum to ",
        static_cast<uint64_t>(total), total > UINT64_MAX ? " (overflow)" : ""));
  }
  if (total == 0) {
    if (proto.min_ns() != 0 || proto.max_ns() != 0 || proto.sum_ns() != 0) {
      return absl::InvalidArgumentError(
          "LatencyHistogram: min_ns, max_ns and sum_ns must be 0 when total_count is 0");
    }
    return h;
  }
  const uint32_t first = proto.bucket_index(0);
  const uint32_t last = proto.bucket_index(proto.bucket_index_size() - 1);
  if (BucketIndex(proto.min_ns(), s) != first) {
    return absl::InvalidArgumentError(absl::StrCat("LatencyHistogram: min_ns ", proto.min_ns(),
                                                   " does not fall in the first non-empty bucket (",
                                                   first, ")"));
  }
  if (BucketIndex(proto.max_ns(), s) != last) {
    return absl::InvalidArgumentError(absl::StrCat("LatencyHistogram: max_ns ", proto.max_ns(),
                                                   " does not fall in the last non-empty bucket (",
                                                   last, ")"));
  }
  const unsigned __int128 sum = proto.sum_ns();
  // The sum may have wrapped only if total * max does not fit in 64 bits.
  const unsigned __int128 low = total * proto.min_ns();
  const unsigned __int128 high = total * proto.max_ns();
  if (high <= UINT64_MAX && (sum < low || sum > high)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LatencyHistogram: sum_ns ", proto.sum_ns(), " is impossible for ",
        static_cast<uint64_t>(total), " values between ", proto.min_ns(), " and ", proto.max_ns()));
  }
  h.total_count_ = static_cast<uint64_t>(total);
  h.min_ns_ = proto.min_ns();
  h.max_ns_ = proto.max_ns();
  h.sum_ns_ = proto.sum_ns();
  return h;
}

bool operator==(const LatencyHistogram& a, const LatencyHistogram& b) {
  return a.sub_bucket_bits_ == b.sub_bucket_bits_ && a.total_count_ == b.total_count_ &&
         a.min_ns() == b.min_ns() && a.max_ns_ == b.max_ns_ && a.sum_ns_ == b.sum_ns_ &&
         a.counts_ == b.counts_;
}

}  // namespace rcbench
