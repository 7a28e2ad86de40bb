#include "loadgen/service.h"

#include <algorithm>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "loadgen/http_worker.h"

namespace rcbench::loadgen {
namespace {

constexpr size_t kRetainedRuns = 8;
constexpr int64_t kMaxLeaseNs = 3600'000'000'000;

// Saturates instead of overflowing: a request's Duration may hold any int64 seconds.
int64_t ToNanos(const google::protobuf::Duration& d) {
  constexpr int64_t kMaxSeconds = 9'000'000'000;
  if (d.seconds() > kMaxSeconds) return std::numeric_limits<int64_t>::max();
  if (d.seconds() < -kMaxSeconds) return std::numeric_limits<int64_t>::min();
  return d.seconds() * 1'000'000'000 + d.nanos();
}

std::string RandomSuffix() {
  static std::mt19937_64 rng(std::random_device{}());
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("%08x", static_cast<uint32_t>(rng()));
}

}  // namespace

namespace {

LoadGenService::Limits DurationOnly(int64_t max_duration_ns) {
  LoadGenService::Limits limits;
  limits.workload.max_duration_ns = max_duration_ns;
  return limits;
}

}  // namespace

LoadGenService::LoadGenService(AllowList allow, Limits limits, Clock* clock,
                               LoadgenMetrics* metrics, std::shared_ptr<const Authorizer> auth)
    : allow_(std::move(allow)),
      limits_(std::move(limits)),
      clock_(clock),
      metrics_(metrics),
      auth_(std::move(auth)) {
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

LoadGenService::LoadGenService(AllowList allow, int64_t max_duration_ns, Clock* clock,
                               LoadgenMetrics* metrics, std::shared_ptr<const Authorizer> auth)
    : LoadGenService(std::move(allow), DurationOnly(max_duration_ns), clock, metrics,
                     std::move(auth)) {}

size_t LoadGenService::stored_workloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workloads_.size();
}

void LoadGenService::EvictForNewWorkload() {
  const size_t max = std::max<size_t>(1, limits_.max_stored_workloads);
  while (workloads_.size() >= max) {
    // The oldest never-started workload; if every one was started, the oldest.
    auto victim = workloads_.end();
    for (auto it = workloads_.begin(); it != workloads_.end(); ++it) {
      if (victim == workloads_.end() || victim->second.started > it->second.started ||
          (victim->second.started == it->second.started &&
           it->second.configured < victim->second.configured)) {
        victim = it;
      }
    }
    RCBENCH_LOG(INFO) << "evicting workload " << victim->first << " (at most " << max
                      << " are kept, --max-workloads)";
    workloads_.erase(victim);
  }
}

std::vector<std::string> LoadGenService::MutatingMethods() {
  return {"/rcbench.v1.LoadGen/Configure", "/rcbench.v1.LoadGen/Start", "/rcbench.v1.LoadGen/Stop"};
}

LoadGenService::~LoadGenService() { Shutdown(); }

void LoadGenService::Shutdown() {
  std::shared_ptr<LoadRun> run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    run = current_;
    cv_.notify_all();
  }
  if (run) {
    run->Stop("stopped");
    run->Wait();
  }
  if (watchdog_.joinable()) watchdog_.join();
}

google::protobuf::Timestamp LoadGenService::WallAt(int64_t mono_ns) const {
  const int64_t wall =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_->Now().time_since_epoch())
          .count() +
      (mono_ns - clock_->MonotonicNanos());
  google::protobuf::Timestamp t;
  t.set_seconds(wall / 1'000'000'000);
  t.set_nanos(static_cast<int32_t>(wall % 1'000'000'000));
  return t;
}

void LoadGenService::WatchdogLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutdown_) {
    cv_.wait_for(lock, std::chrono::nanoseconds(kWatchdogPeriodNs));
    if (current_ && !current_->done() && clock_->MonotonicNanos() >= lease_expires_ns_) {
      RCBENCH_LOG(WARNING) << "lease " << lease_id_ << " expired: stopping run " << current_->id();
      current_->Stop("lease-expired");
    }
  }
}

grpc::Status LoadGenService::Configure(grpc::ServerContext* context,
                                       const rcbench::v1::ConfigureRequest* request,
                                       rcbench::v1::ConfigureResponse* response) {
  if (grpc::Status a = auth_->Authorize(*context, Role::kControl, "Configure"); !a.ok()) return a;
  auto spec = ValidateWorkload(request->workload(), allow_, limits_.workload);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  if (spec->io_engine == IoEngine::kIoUring && !spec->classes.empty()) {
    const absl::Status io = IoUringSupport();  // FAILED_PRECONDITION naming --io epoll
    if (!io.ok()) return ToGrpcStatus(io);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
  EvictForNewWorkload();
  const uint64_t seq = next_id_++;
  const std::string id = absl::StrCat("w", seq, "-", RandomSuffix());
  StoredWorkload& stored = workloads_[id];
  stored.configured = seq;
  stored.workload = request->workload();
  response->set_workload_id(id);
  return grpc::Status::OK;
}

grpc::Status LoadGenService::Start(grpc::ServerContext* context,
                                   const rcbench::v1::StartRequest* request,
                                   rcbench::v1::StartResponse* response) {
  if (grpc::Status a = auth_->Authorize(*context, Role::kControl, "Start"); !a.ok()) return a;
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
  auto it = workloads_.find(request->workload_id());
  if (it == workloads_.end()) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("workload_id \"", request->workload_id(),
                     "\" is not configured: unknown, or evicted (the generator keeps the ",
                     std::max<size_t>(1, limits_.max_stored_workloads),
                     " most recently configured workloads, --max-workloads)"));
  }
  if (current_ && !current_->done()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("run ", current_->id(), " is still running; Stop it first"));
  }
  int64_t lease = kDefaultLeaseNs;
  if (request->has_lease()) {
    lease = ToNanos(request->lease());
    if (lease <= 0 || lease > kMaxLeaseNs) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "lease: must be in (0, 1h]");
    }
  }
  auto spec = ValidateWorkload(it->second.workload, allow_, limits_.workload);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  const std::string run_id = absl::StrCat("run", next_id_++, "-", RandomSuffix());
  LoadgenMetrics* metrics = metrics_;
  auto run = LoadRun::Start(*std::move(spec), run_id, clock_,
                            [metrics](const rcbench::v1::StatsReport& r) {
                              if (metrics == nullptr) return;
                              metrics->AddReport(r);
                              if (r.final()) metrics->SetRunActive(false);
                            });
  if (!run.ok()) return ToGrpcStatus(run.status());
  it->second.started = true;
  if (metrics_) metrics_->SetRunActive(true);
  current_ = std::shared_ptr<LoadRun>(std::move(*run));
  runs_[run_id] = current_;
  while (runs_.size() > kRetainedRuns) {
    auto oldest = runs_.begin();
    for (auto r = runs_.begin(); r != runs_.end(); ++r) {
      if (r->second != current_ && r->second->done()) {
        oldest = r;
        break;
      }
    }
    if (oldest->second == current_) break;
    runs_.erase(oldest);
  }
  const int64_t now = clock_->MonotonicNanos();
  lease_id_ = absl::StrCat("lease-", RandomSuffix(), RandomSuffix());
  lease_length_ns_ = lease;
  lease_expires_ns_ = now + lease;
  response->set_run_id(run_id);
  response->set_lease_id(lease_id_);
  *response->mutable_lease_expires() = WallAt(lease_expires_ns_);
  *response->mutable_started_at() = WallAt(now);
  RCBENCH_LOG(INFO) << "started " << run_id << " with " << lease_id_;
  return grpc::Status::OK;
}

std::shared_ptr<LoadRun> LoadGenService::FindRun(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : it->second;
}

grpc::Status LoadGenService::Stop(grpc::ServerContext* context,
                                  const rcbench::v1::StopRequest* request,
                                  rcbench::v1::StopResponse* response) {
  if (grpc::Status a = auth_->Authorize(*context, Role::kControl, "Stop"); !a.ok()) return a;
  auto run = FindRun(request->run_id());
  if (!run) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("run_id \"", request->run_id(), "\" is unknown"));
  }
  run->Stop("stopped");
  run->Wait();
  for (auto& t : run->Totals()) *response->add_totals() = std::move(t);
  response->set_end_reason(run->end_reason());
  return grpc::Status::OK;
}

grpc::Status LoadGenService::StreamStats(grpc::ServerContext* context,
                                         const rcbench::v1::StreamStatsRequest* request,
                                         grpc::ServerWriter<rcbench::v1::StatsReport>* writer) {
  if (grpc::Status a = auth_->Authorize(*context, Role::kRead, "StreamStats"); !a.ok()) return a;
  auto run = FindRun(request->run_id());
  if (!run) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("run_id \"", request->run_id(), "\" is unknown"));
  }
  uint64_t after = request->resume_after_sequence();
  if (after == 0) {
    after = run->sequence();
    // Live only, but a run that has ended still owes the caller its final report.
    if (run->done() && after > 0) after -= 1;
  }
  for (;;) {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    bool ended = false;
    auto reports = run->ReportsAfter(after, std::chrono::milliseconds(200), &ended);
    for (const auto& r : reports) {
      if (!writer->Write(r)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      after = r.sequence();
      if (r.final()) return grpc::Status::OK;
    }
    if (ended && reports.empty()) return grpc::Status::OK;
  }
}

grpc::Status LoadGenService::RenewLease(grpc::ServerContext* context,
                                        const rcbench::v1::RenewLeaseRequest* request,
                                        rcbench::v1::RenewLeaseResponse* response) {
  if (grpc::Status a = auth_->Authorize(*context, Role::kControl, "RenewLease"); !a.ok()) return a;
  std::lock_guard<std::mutex> lock(mu_);
  if (request->lease_id().empty() || request->lease_id() != lease_id_) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("lease_id \"", request->lease_id(), "\" is unknown"));
  }
  const int64_t now = clock_->MonotonicNanos();
  if (!current_ || current_->done() || now >= lease_expires_ns_) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "the lease has expired or its run has ended");
  }
  int64_t extend = lease_length_ns_;
  if (request->has_extend_by()) {
    extend = ToNanos(request->extend_by());
    if (extend <= 0 || extend > kMaxLeaseNs) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "extend_by: must be in (0, 1h]");
    }
  }
  lease_expires_ns_ = now + extend;
  *response->mutable_lease_expires() = WallAt(lease_expires_ns_);
  return grpc::Status::OK;
}

}  // namespace rcbench::loadgen
