#pragma once

// Seams for the controller's peers: AgentClient and LoadGenClient, with gRPC-backed real
// implementations (deadlines on every call, retries with exponential back-off on UNAVAILABLE
// and DEADLINE_EXCEEDED) and fakes in controller/testing/. Streams are objects the caller
// reads from one thread and may cancel from another.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/rpc_security.h"
#include "rcbench/v1/agent.grpc.pb.h"
#include "rcbench/v1/loadgen.grpc.pb.h"

namespace rcbench::controller {

struct RetryPolicy {
  std::chrono::milliseconds deadline{5000};  // per attempt
  int attempts = 4;
  std::chrono::milliseconds initial_backoff{200};
  double multiplier = 2.0;
  std::chrono::milliseconds max_backoff{2000};
};

// Calls `attempt` until it succeeds, fails with a non-retryable code, or `policy.attempts`
// are used, sleeping on `clock` between attempts with exponential back-off.
absl::Status RetryWithBackoff(const RetryPolicy& policy, Clock& clock,
                              const std::function<absl::Status()>& attempt);

// A server stream. Read blocks; Cancel may be called from any thread and makes Read return
// false soon.
template <typename T>
class Stream {
 public:
  virtual ~Stream() = default;
  virtual bool Read(T* out) = 0;
  virtual void Cancel() = 0;
  // After Read returned false: why the stream ended.
  virtual absl::Status Finish() = 0;
};

class AgentClient {
 public:
  virtual ~AgentClient() = default;
  virtual const std::string& host() const = 0;
  // The health check, retried per the RetryPolicy (slow to give up on a partitioned host).
  virtual absl::Status CheckHealth() = 0;
  // One health check with `deadline` and no retries: how losses are noticed quickly.
  virtual absl::Status Probe(std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<rcbench::v1::HostFacts> GetHostFacts(
      const std::vector<std::string>& sysctls) = 0;
  // `owner` (the run id; may be empty) lets ReleaseOwner find it after a crash.
  virtual absl::StatusOr<rcbench::v1::ContainerInfo> CreateContainer(
      const std::string& path, const rcbench::v1::ContainerAttributes& attributes,
      const std::string& owner) = 0;
  virtual absl::Status DeleteContainer(const std::string& path) = 0;
  virtual absl::StatusOr<rcbench::v1::ServiceStatus> StartService(
      const rcbench::v1::StartServiceRequest& request) = 0;
  virtual absl::Status StopService(const std::string& name) = 0;
  // One status query with `deadline` and no retries.
  virtual absl::StatusOr<rcbench::v1::ServiceStatus> GetServiceStatus(
      const std::string& name, std::chrono::milliseconds deadline) = 0;
  // Stops the services and deletes the containers `owner` holds on the agent.
  virtual absl::StatusOr<rcbench::v1::ReleaseOwnerResponse> ReleaseOwner(
      const std::string& owner) = 0;
  virtual absl::Status SetSysctl(const std::string& name, const std::string& value) = 0;
  virtual absl::Status RestoreSysctls() = 0;
  virtual std::unique_ptr<Stream<rcbench::v1::UsageReport>> SubscribeUsage(
      uint64_t resume_after_sequence) = 0;
};

class LoadGenClient {
 public:
  virtual ~LoadGenClient() = default;
  virtual const std::string& host() const = 0;
  virtual absl::Status CheckHealth() = 0;
  // One health check with `deadline` and no retries.
  virtual absl::Status Probe(std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<std::string> Configure(const rcbench::v1::Workload& workload) = 0;
  virtual absl::StatusOr<rcbench::v1::StartResponse> Start(const std::string& workload_id,
                                                           std::chrono::nanoseconds lease) = 0;
  virtual absl::StatusOr<rcbench::v1::StopResponse> Stop(const std::string& run_id) = 0;
  virtual absl::Status RenewLease(const std::string& lease_id,
                                  std::chrono::nanoseconds extend_by) = 0;
  virtual std::unique_ptr<Stream<rcbench::v1::StatsReport>> StreamStats(
      const std::string& run_id, uint64_t resume_after_sequence) = 0;
};

// One link from the controller to an agent or a load generator: where it goes and how it is
// secured (mutual TLS and the token, common/rpc_security.h).
struct Link {
  std::string kind;     // "agent" or "load generator"
  std::string host;     // its name in the spec ("srv"); local mode: "local"
  std::string address;  // HOST:PORT
  ClientSecurity security;
  // "controller -> agent srv at 10.0.0.2:7000 (mutual TLS)": how errors name the link.
  std::string Describe() const;
};

// A channel for the link (common/rpc_security.h's MakeRpcChannel). Errors name the link.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Link& link);

class GrpcAgentClient : public AgentClient {
 public:
  // `host` names the agent in results; `clock` must outlive this.
  // Every error names the link and, for the failures of a secured link (TLS handshake, name,
  // token, role), the likely cause.
  GrpcAgentClient(Link link, std::shared_ptr<grpc::Channel> channel, Clock& clock,
                  RetryPolicy policy = {});
  const std::string& host() const override { return link_.host; }
  absl::Status CheckHealth() override;
  absl::Status Probe(std::chrono::milliseconds deadline) override;
  absl::StatusOr<rcbench::v1::HostFacts> GetHostFacts(
      const std::vector<std::string>& sysctls) override;
  absl::StatusOr<rcbench::v1::ContainerInfo> CreateContainer(
      const std::string& path, const rcbench::v1::ContainerAttributes& attributes,
      const std::string& owner) override;
  absl::Status DeleteContainer(const std::string& path) override;
  absl::StatusOr<rcbench::v1::ServiceStatus> StartService(
      const rcbench::v1::StartServiceRequest& request) override;
  absl::Status StopService(const std::string& name) override;
  absl::StatusOr<rcbench::v1::ServiceStatus> GetServiceStatus(
      const std::string& name, std::chrono::milliseconds deadline) override;
  absl::StatusOr<rcbench::v1::ReleaseOwnerResponse> ReleaseOwner(const std::string& owner) override;
  absl::Status SetSysctl(const std::string& name, const std::string& value) override;
  absl::Status RestoreSysctls() override;
  std::unique_ptr<Stream<rcbench::v1::UsageReport>> SubscribeUsage(
      uint64_t resume_after_sequence) override;

 private:
  Link link_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rcbench::v1::Agent::StubInterface> stub_;
  Clock& clock_;
  RetryPolicy policy_;
};

class GrpcLoadGenClient : public LoadGenClient {
 public:
  GrpcLoadGenClient(Link link, std::shared_ptr<grpc::Channel> channel, Clock& clock,
                    RetryPolicy policy = {});
  const std::string& host() const override { return link_.host; }
  absl::Status CheckHealth() override;
  absl::Status Probe(std::chrono::milliseconds deadline) override;
  absl::StatusOr<std::string> Configure(const rcbench::v1::Workload& workload) override;
  absl::StatusOr<rcbench::v1::StartResponse> Start(const std::string& workload_id,
                                                   std::chrono::nanoseconds lease) override;
  absl::StatusOr<rcbench::v1::StopResponse> Stop(const std::string& run_id) override;
  absl::Status RenewLease(const std::string& lease_id, std::chrono::nanoseconds extend_by) override;
  std::unique_ptr<Stream<rcbench::v1::StatsReport>> StreamStats(
      const std::string& run_id, uint64_t resume_after_sequence) override;

 private:
  Link link_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rcbench::v1::LoadGen::StubInterface> stub_;
  Clock& clock_;
  RetryPolicy policy_;
};

}  // namespace rcbench::controller
