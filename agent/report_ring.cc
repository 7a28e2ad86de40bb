#include "agent/report_ring.h"

#include <algorithm>

namespace rcbench::agent {

ReportRing::ReportRing(size_t max_reports, uint64_t max_bytes)
    : max_reports_(std::max<size_t>(max_reports, 1)), max_bytes_(max_bytes) {}

void ReportRing::Append(ReportPtr report) {
  uint64_t size = report->ByteSizeLong();
  {
    std::lock_guard<std::mutex> lock(mu_);
    reports_.emplace_back(std::move(report), size);
    bytes_ += size;
    // Always keep the newest report, even if it alone exceeds the byte bound.
    while (reports_.size() > 1 && (reports_.size() > max_reports_ || bytes_ > max_bytes_)) {
      bytes_ -= reports_.front().second;
      reports_.pop_front();
    }
  }
  cv_.notify_all();
}

void ReportRing::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

ReportRing::Batch ReportRing::WaitAfter(uint64_t after, std::chrono::nanoseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto has_new = [&] {
    return closed_ || (!reports_.empty() && reports_.back().first->sequence() > after);
  };
  cv_.wait_for(lock, timeout, has_new);
  Batch batch;
  batch.closed = closed_;
  if (reports_.empty() || reports_.back().first->sequence() <= after) return batch;
  uint64_t first = reports_.front().first->sequence();
  if (first > after + 1) batch.missed = first - after - 1;
  // Sequences are consecutive, so the start index is arithmetic.
  size_t start = after + 1 > first ? static_cast<size_t>(after + 1 - first) : 0;
  batch.reports.reserve(reports_.size() - start);
  for (size_t i = start; i < reports_.size(); ++i) batch.reports.push_back(reports_[i].first);
  return batch;
}

ReportPtr ReportRing::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reports_.empty() ? nullptr : reports_.back().first;
}

uint64_t ReportRing::last_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reports_.empty() ? 0 : reports_.back().first->sequence();
}

size_t ReportRing::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reports_.size();
}

uint64_t ReportRing::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace rcbench::agent
