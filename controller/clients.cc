#include "controller/clients.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace rcbench::controller {
namespace {

bool Retryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

void SetDeadline(grpc::ClientContext& ctx, std::chrono::milliseconds d) {
  ctx.set_deadline(std::chrono::system_clock::now() + d);
}

// Runs one unary call with a deadline per attempt and retries. Errors name the link, the
// method and the likely cause.
template <typename Call>
absl::Status Unary(const Link& link, const char* method, const RetryPolicy& policy, Clock& clock,
                   Call call) {
  absl::Status s = RetryWithBackoff(policy, clock, [&]() -> absl::Status {
    grpc::ClientContext ctx;
    SetDeadline(ctx, policy.deadline);
    grpc::Status g = call(ctx);
    if (g.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(g.error_code()),
                        ExplainRpcFailure(g, link.security));
  });
  if (s.ok()) return s;
  return absl::Status(
      s.code(), absl::StrCat(link.host, ": ", method, " on ", link.Describe(), ": ", s.message()));
}

RetryPolicy SingleTry(std::chrono::milliseconds deadline) {
  RetryPolicy p;
  p.attempts = 1;
  p.deadline = deadline;
  return p;
}

// A host whose TLS set-up is wrong will not come right by waiting: with `diagnose`, such a
// failure is FAILED_PRECONDITION with the diagnosis, so that the runner does not wait for it.
absl::Status HealthCheck(const Link& link, const std::shared_ptr<grpc::Channel>& channel,
                         const RetryPolicy& policy, Clock& clock, bool diagnose = true) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckResponse resp;
  absl::Status s = Unary(link, "health check", policy, clock, [&](grpc::ClientContext& ctx) {
    grpc::health::v1::HealthCheckRequest req;
    return stub->Check(&ctx, req, &resp);
  });
  if (diagnose && s.code() == absl::StatusCode::kUnavailable) {
    // gRPC's words for a failed handshake rarely say which certificate is wrong; ask the
    // server ourselves.
    if (std::string why = DiagnoseTlsLink(link.address, link.security); !why.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(s.message(), "; diagnosis: ", why));
    }
  }
  if (!s.ok()) return s;
  if (resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(link.host, ": health check: not serving"));
  }
  return absl::OkStatus();
}

template <typename T>
class GrpcStream : public Stream<T> {
 public:
  GrpcStream() = default;
  bool Read(T* out) override { return reader_ && reader_->Read(out); }
  void Cancel() override { ctx_.TryCancel(); }
  absl::Status Finish() override {
    if (!reader_) return absl::InternalError("stream not started");
    return FromGrpcStatus(reader_->Finish());
  }
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderInterface<T>> reader_;
};

}  // namespace

absl::Status RetryWithBackoff(const RetryPolicy& policy, Clock& clock,
                              const std::function<absl::Status()>& attempt) {
  auto backoff = policy.initial_backoff;
  absl::Status s;
  for (int i = 0; i < std::max(1, policy.attempts); ++i) {
    if (i > 0) {
      clock.SleepFor(backoff);
      backoff = std::min(policy.max_backoff,
                         std::chrono::milliseconds(static_cast<int64_t>(
                             static_cast<double>(backoff.count()) * policy.multiplier)));
    }
    s = attempt();
    if (s.ok() || !Retryable(s)) return s;
  }
  return s;
}

std::string Link::Describe() const {
  return absl::StrCat("controller -> ", kind, " ", host, " at ", address,
                      security.tls.enabled() ? " (mutual TLS)" : " (plaintext)");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Link& link) {
  auto channel = MakeRpcChannel(link.address, link.security, link.Describe());
  if (!channel.ok()) {
    return absl::Status(channel.status().code(),
                        absl::StrCat(link.host, ": ", channel.status().message()));
  }
  return channel;
}

GrpcAgentClient::GrpcAgentClient(Link link, std::shared_ptr<grpc::Channel> channel, Clock& clock,
                                 RetryPolicy policy)
    : link_(std::move(link)),
      channel_(std::move(channel)),
      stub_(rcbench::v1::Agent::NewStub(channel_)),
      clock_(clock),
      policy_(policy) {}

absl::Status GrpcAgentClient::CheckHealth() {
  return HealthCheck(link_, channel_, policy_, clock_);
}

absl::Status GrpcAgentClient::Probe(std::chrono::milliseconds deadline) {
  return HealthCheck(link_, channel_, SingleTry(deadline), clock_, /*diagnose=*/false);
}

absl::StatusOr<rcbench::v1::ServiceStatus> GrpcAgentClient::GetServiceStatus(
    const std::string& name, std::chrono::milliseconds deadline) {
  rcbench::v1::GetServiceStatusRequest req;
  req.set_name(name);
  rcbench::v1::ServiceStatus resp;
  absl::Status s =
      Unary(link_, "GetServiceStatus", SingleTry(deadline), clock_,
            [&](grpc::ClientContext& ctx) { return stub_->GetServiceStatus(&ctx, req, &resp); });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<rcbench::v1::ReleaseOwnerResponse> GrpcAgentClient::ReleaseOwner(
    const std::string& owner) {
  rcbench::v1::ReleaseOwnerRequest req;
  req.set_owner(owner);
  rcbench::v1::ReleaseOwnerResponse resp;
  RetryPolicy p = policy_;
  // Stopping a service waits up to its grace period (5 s by default).
  p.deadline = std::max(p.deadline, std::chrono::milliseconds(15000));
  absl::Status s = Unary(link_, "ReleaseOwner", p, clock_, [&](grpc::ClientContext& ctx) {
    return stub_->ReleaseOwner(&ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<rcbench::v1::HostFacts> GrpcAgentClient::GetHostFacts(
    const std::vector<std::string>& sysctls) {
  rcbench::v1::GetHostFactsRequest req;
  for (const auto& s : sysctls) req.add_sysctls(s);
  rcbench::v1::HostFacts resp;
  absl::Status s = Unary(link_, "GetHostFacts", policy_, clock_, [&](grpc::ClientContext& ctx) {
    return stub_->GetHostFacts(&ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<rcbench::v1::ContainerInfo> GrpcAgentClient::CreateContainer(
    const std::string& path, const rcbench::v1::ContainerAttributes& attributes,
    const std::string& owner) {
  rcbench::v1::CreateContainerRequest req;
  req.set_path(path);
  req.set_owner(owner);
  *req.mutable_attributes() = attributes;
  req.set_exist_ok(true);
  rcbench::v1::ContainerInfo resp;
  absl::Status s = Unary(link_, "CreateContainer", policy_, clock_, [&](grpc::ClientContext& ctx) {
    return stub_->CreateContainer(&ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::Status GrpcAgentClient::DeleteContainer(const std::string& path) {
  rcbench::v1::DeleteContainerRequest req;
  req.set_path(path);
  req.set_recursive(true);
  rcbench::v1::DeleteContainerResponse resp;
  return Unary(link_, "DeleteContainer", policy_, clock_,
               [&](grpc::ClientContext& ctx) { return stub_->DeleteContainer(&ctx, req, &resp); });
}

absl::StatusOr<rcbench::v1::ServiceStatus> GrpcAgentClient::StartService(
    const rcbench::v1::StartServiceRequest& req) {
  rcbench::v1::ServiceStatus resp;
  RetryPolicy p = policy_;
  // Starting waits for the service's ready file.
  p.deadline =
      std::max(p.deadline, std::chrono::milliseconds(req.ready_timeout().seconds() * 1000 + 5000));
  absl::Status s = Unary(link_, "StartService", p, clock_, [&](grpc::ClientContext& ctx) {
    return stub_->StartService(&ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::Status GrpcAgentClient::StopService(const std::string& name) {
  rcbench::v1::StopServiceRequest req;
  req.set_name(name);
  rcbench::v1::ServiceStatus resp;
  RetryPolicy p = policy_;
  p.deadline = std::max(p.deadline, std::chrono::milliseconds(10000));
  return Unary(link_, "StopService", p, clock_,
               [&](grpc::ClientContext& ctx) { return stub_->StopService(&ctx, req, &resp); });
}

absl::Status GrpcAgentClient::SetSysctl(const std::string& name, const std::string& value) {
  rcbench::v1::SetSysctlRequest req;
  req.set_name(name);
  req.set_value(value);
  rcbench::v1::SetSysctlResponse resp;
  return Unary(link_, "SetSysctl", policy_, clock_,
               [&](grpc::ClientContext& ctx) { return stub_->SetSysctl(&ctx, req, &resp); });
}

absl::Status GrpcAgentClient::RestoreSysctls() {
  rcbench::v1::RestoreSysctlsRequest req;
  rcbench::v1::RestoreSysctlsResponse resp;
  return Unary(link_, "RestoreSysctls", policy_, clock_,
               [&](grpc::ClientContext& ctx) { return stub_->RestoreSysctls(&ctx, req, &resp); });
}

std::unique_ptr<Stream<rcbench::v1::UsageReport>> GrpcAgentClient::SubscribeUsage(
    uint64_t resume_after_sequence) {
  auto stream = std::make_unique<GrpcStream<rcbench::v1::UsageReport>>();
  rcbench::v1::SubscribeUsageRequest req;
  req.set_resume_after_sequence(resume_after_sequence);
  stream->reader_ = stub_->SubscribeUsage(&stream->ctx_, req);
  return stream;
}

GrpcLoadGenClient::GrpcLoadGenClient(Link link, std::shared_ptr<grpc::Channel> channel,
                                     Clock& clock, RetryPolicy policy)
    : link_(std::move(link)),
      channel_(std::move(channel)),
      stub_(rcbench::v1::LoadGen::NewStub(channel_)),
      clock_(clock),
      policy_(policy) {}

absl::Status GrpcLoadGenClient::CheckHealth() {
  return HealthCheck(link_, channel_, policy_, clock_);
}

absl::Status GrpcLoadGenClient::Probe(std::chrono::milliseconds deadline) {
  return HealthCheck(link_, channel_, SingleTry(deadline), clock_, /*diagnose=*/false);
}

absl::StatusOr<std::string> GrpcLoadGenClient::Configure(const rcbench::v1::Workload& workload) {
  rcbench::v1::ConfigureRequest req;
  *req.mutable_workload() = workload;
  rcbench::v1::ConfigureResponse resp;
  absl::Status s = Unary(link_, "Configure", policy_, clock_, [&](grpc::ClientContext& ctx) {
    return stub_->Configure(&ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp.workload_id();
}

absl::StatusOr<rcbench::v1::StartResponse> GrpcLoadGenClient::Start(
    const std::string& workload_id, std::chrono::nanoseconds lease) {
  rcbench::v1::StartRequest req;
  req.set_workload_id(workload_id);
  req.mutable_lease()->set_seconds(lease.count() / 1'000'000'000);
  req.mutable_lease()->set_nanos(static_cast<int32_t>(lease.count() % 1'000'000'000));
  rcbench::v1::StartResponse resp;
  // Not retried: a lost reply could leave a run going; the lease bounds it.
  RetryPolicy once = policy_;
  once.attempts = 1;
  absl::Status s = Unary(link_, "Start", once, clock_,
                         [&](grpc::ClientContext& ctx) { return stub_->Start(&ctx, req, &resp); });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<rcbench::v1::StopResponse> GrpcLoadGenClient::Stop(const std::string& run_id) {
  rcbench::v1::StopRequest req;
  req.set_run_id(run_id);
  rcbench::v1::StopResponse resp;
  absl::Status s = Unary(link_, "Stop", policy_, clock_,
                         [&](grpc::ClientContext& ctx) { return stub_->Stop(&ctx, req, &resp); });
  if (!s.ok()) return s;
  return resp;
}

absl::Status GrpcLoadGenClient::RenewLease(const std::string& lease_id,
                                           std::chrono::nanoseconds extend_by) {
  rcbench::v1::RenewLeaseRequest req;
  req.set_lease_id(lease_id);
  req.mutable_extend_by()->set_seconds(extend_by.count() / 1'000'000'000);
  req.mutable_extend_by()->set_nanos(static_cast<int32_t>(extend_by.count() % 1'000'000'000));
  rcbench::v1::RenewLeaseResponse resp;
  RetryPolicy p = policy_;
  p.attempts = 2;
  p.deadline = std::chrono::milliseconds(1500);
  return Unary(link_, "RenewLease", p, clock_,
               [&](grpc::ClientContext& ctx) { return stub_->RenewLease(&ctx, req, &resp); });
}

std::unique_ptr<Stream<rcbench::v1::StatsReport>> GrpcLoadGenClient::StreamStats(
    const std::string& run_id, uint64_t resume_after_sequence) {
  auto stream = std::make_unique<GrpcStream<rcbench::v1::StatsReport>>();
  rcbench::v1::StreamStatsRequest req;
  req.set_run_id(run_id);
  req.set_resume_after_sequence(resume_after_sequence);
  stream->reader_ = stub_->StreamStats(&stream->ctx_, req);
  return stream;
}

}  // namespace rcbench::controller
