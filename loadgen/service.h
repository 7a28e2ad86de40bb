#pragma once

// The rcbench.v1.LoadGen gRPC service (sync API): Configure validates a workload against the
// generator's own allow-list and duration bound (nothing is sent), Start runs it under a lease,
// RenewLease extends the lease, StreamStats streams interval reports, Stop ends the run.
// A watchdog stops the run with end reason "lease-expired" within 100 ms of an unrenewed
// lease's expiry (the contract allows 2 s). One run at a time.
//
// Configured workloads are kept in a bounded store (Limits::max_stored_workloads): when it is
// full, Configure evicts the oldest workload that was never started (or, if every one was, the
// oldest) and frees it; Start of an evicted id is NOT_FOUND naming the id.
//
// The allow-list is fixed at construction: nothing in the API can widen it. Every call is
// authorized first: StreamStats needs the read role, everything else the control role.
// Thread safety: all RPCs may run concurrently.

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/rpc_security.h"
#include "loadgen/allow_list.h"
#include "loadgen/load_run.h"
#include "loadgen/metrics.h"
#include "rcbench/v1/loadgen.grpc.pb.h"

namespace rcbench::loadgen {

class LoadGenService final : public rcbench::v1::LoadGen::Service {
 public:
  static constexpr int64_t kDefaultLeaseNs = 10'000'000'000;
  static constexpr int64_t kWatchdogPeriodNs = 100'000'000;
  static constexpr size_t kDefaultMaxStoredWorkloads = 16;

  struct Limits {
    // What every Configure and Start validates against (max duration, sockets, RLIMIT_NOFILE).
    WorkloadLimits workload;
    // Configured workloads kept at once (--max-workloads); at least 1.
    size_t max_stored_workloads = kDefaultMaxStoredWorkloads;
  };

  // `metrics` may be null. `clock` must outlive the service.
  LoadGenService(AllowList allow, Limits limits, Clock* clock, LoadgenMetrics* metrics,
                 std::shared_ptr<const Authorizer> auth);
  // Default limits besides the maximum duration.
  LoadGenService(AllowList allow, int64_t max_duration_ns, Clock* clock, LoadgenMetrics* metrics,
                 std::shared_ptr<const Authorizer> auth);

  // The methods whose calls are audited (they start, change or stop load).
  static std::vector<std::string> MutatingMethods();
  ~LoadGenService() override;

  grpc::Status Configure(grpc::ServerContext* context, const rcbench::v1::ConfigureRequest* request,
                         rcbench::v1::ConfigureResponse* response) override;
  grpc::Status Start(grpc::ServerContext* context, const rcbench::v1::StartRequest* request,
                     rcbench::v1::StartResponse* response) override;
  grpc::Status Stop(grpc::ServerContext* context, const rcbench::v1::StopRequest* request,
                    rcbench::v1::StopResponse* response) override;
  grpc::Status StreamStats(grpc::ServerContext* context,
                           const rcbench::v1::StreamStatsRequest* request,
                           grpc::ServerWriter<rcbench::v1::StatsReport>* writer) override;
  grpc::Status RenewLease(grpc::ServerContext* context,
                          const rcbench::v1::RenewLeaseRequest* request,
                          rcbench::v1::RenewLeaseResponse* response) override;

  // Stops any run (end reason "stopped") and the watchdog; RPCs after this fail UNAVAILABLE.
  void Shutdown();

  // Workloads in the store now (at most Limits::max_stored_workloads).
  size_t stored_workloads() const;

 private:
  struct StoredWorkload {
    uint64_t configured = 0;  // order of Configure calls
    bool started = false;
    rcbench::v1::Workload workload;
  };

  std::shared_ptr<LoadRun> FindRun(const std::string& run_id);
  // Makes room for one more workload. Requires mu_.
  void EvictForNewWorkload();
  void WatchdogLoop();
  google::protobuf::Timestamp WallAt(int64_t mono_ns) const;

  const AllowList allow_;
  const Limits limits_;
  Clock* clock_;
  LoadgenMetrics* metrics_;
  std::shared_ptr<const Authorizer> auth_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
  uint64_t next_id_ = 1;
  std::map<std::string, StoredWorkload> workloads_;
  std::map<std::string, std::shared_ptr<LoadRun>> runs_;  // the last few runs, by id
  std::shared_ptr<LoadRun> current_;
  std::string lease_id_;
  int64_t lease_length_ns_ = 0;
  int64_t lease_expires_ns_ = 0;  // monotonic
  std::thread watchdog_;
};

}  // namespace rcbench::loadgen
