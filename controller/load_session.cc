#include "controller/load_session.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "controller/histogram_math.h"

namespace rcbench::controller {
namespace {

double IntervalSeconds(const rcbench::v1::ClassStats& s) {
  int64_t mono = s.interval_end().monotonic_ns() - s.interval_start().monotonic_ns();
  return mono > 0 ? mono / 1e9 : 0;
}

}  // namespace

LoadSession::LoadSession(std::string name, LoadGenClient& client, Clock& clock, LeaseOptions lease,
                         FaultMonitor& faults, ControllerMetrics* metrics)
    : name_(std::move(name)),
      client_(client),
      clock_(clock),
      lease_(lease),
      faults_(faults),
      metrics_(metrics) {}

LoadSession::~LoadSession() { Close(/*abort=*/true); }

absl::Status LoadSession::Configure(const rcbench::v1::Workload& workload) {
  auto id = client_.Configure(workload);
  if (!id.ok()) return id.status();
  workload_id_ = *id;
  return absl::OkStatus();
}

absl::Status LoadSession::Start(std::chrono::nanoseconds busy_wait) {
  const int64_t give_up = clock_.MonotonicNanos() + busy_wait.count();
  absl::StatusOr<rcbench::v1::StartResponse> started;
  while (true) {
    started = client_.Start(workload_id_, lease_.length);
    // "run N is still running": a killed controller's load, which its lease ends shortly.
    if (started.ok() || started.status().code() != absl::StatusCode::kFailedPrecondition ||
        clock_.MonotonicNanos() >= give_up || faults_.failed()) {
      break;
    }
    clock_.SleepFor(std::chrono::milliseconds(250));
  }
  if (!started.ok()) return started.status();
  run_id_ = started->run_id();
  lease_id_ = started->lease_id();
  stream_ = client_.StreamStats(run_id_, 0);
  stats_thread_ = std::thread([this] { ReadStats(); });
  lease_thread_ = std::thread([this] { RenewLeases(); });
  return absl::OkStatus();
}

void LoadSession::ReadStats() {
  rcbench::v1::StatsReport report;
  while (stream_->Read(&report)) {
    for (const auto& c : report.classes()) {
      double secs = IntervalSeconds(c);
      if (metrics_ && secs > 0) {
        metrics_->SetClassLive(c.class_name(), c.requests_ok() / secs,
                               HistogramQuantileNs(c.latency(), 0.5) / 1e9,
                               HistogramQuantileNs(c.latency(), 0.99) / 1e9);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    reports_.push_back(report);
    if (report.final()) {
      final_seen_ = true;
      totals_.assign(report.totals().begin(), report.totals().end());
    }
  }
  absl::Status st = stream_->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  if (!final_seen_ && !done_ && !stopped_ && !stopping_ && !st.ok()) {
    faults_.Report(
        name_, absl::StrCat("load generator ", name_, " lost: statistics stream: ", st.message()));
  }
}

bool LoadSession::Done() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_ || final_seen_ || stopped_ || stopping_;
}

void LoadSession::RenewLeases() {
  int64_t last_ok = clock_.MonotonicNanos();
  while (true) {
    const int64_t next = clock_.MonotonicNanos() + lease_.renew_every.count();
    while (!Done() && clock_.MonotonicNanos() < next) {
      clock_.SleepFor(std::min<std::chrono::nanoseconds>(
          std::chrono::nanoseconds(next - clock_.MonotonicNanos()), std::chrono::milliseconds(50)));
    }
    if (Done()) return;
    absl::Status st = client_.RenewLease(lease_id_, lease_.length);
    if (Done()) return;
    if (st.ok()) {
      last_ok = clock_.MonotonicNanos();
      std::lock_guard<std::mutex> lock(mu_);
      ++renewals_;
      continue;
    }
    // One failed renewal is not a loss while the lease still runs; a lease that has run out
    // (the generator has stopped by now) or a refusal (the generator no longer knows it) is.
    const bool expired = clock_.MonotonicNanos() - last_ok >= lease_.length.count();
    if (expired || (st.code() != absl::StatusCode::kUnavailable &&
                    st.code() != absl::StatusCode::kDeadlineExceeded)) {
      faults_.Report(
          name_, absl::StrCat("load generator ", name_, " lost: lease renewal: ", st.message()));
      return;
    }
  }
}

absl::Status LoadSession::Stop() {
  if (run_id_.empty()) return absl::OkStatus();
  {
    // From here a refused renewal or an ended stream is the stop's doing, not a loss: the
    // generator may end the run before the Stop reply arrives.
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  auto stopped = client_.Stop(run_id_);
  if (!stopped.ok()) return stopped.status();
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  if (totals_.empty()) totals_.assign(stopped->totals().begin(), stopped->totals().end());
  return absl::OkStatus();
}

void LoadSession::Close(bool abort) {
  bool stop_load;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    stop_load = abort && !stopped_ && !run_id_.empty();
  }
  // A lost generator is not waited on: its lease stops it.
  if (stop_load && !faults_.HostLost(name_)) {
    absl::Status s = client_.Stop(run_id_).status();
    if (!s.ok()) {
      RCBENCH_LOG(DEBUG) << name_ << ": stopping the load after a failure: " << s;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  if (stream_) stream_->Cancel();
  if (stats_thread_.joinable()) stats_thread_.join();
  if (lease_thread_.joinable()) lease_thread_.join();
}

}  // namespace rcbench::controller
