#include "agent/agent_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/container_path.h"
#include "agent/request_validation.h"
#include "agent/sysctl_store.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace rcbench::agent {
namespace {

using rcbench::v1::UsageReport;

grpc::Status Invalid(const absl::Status& s) { return ToGrpcStatus(s); }

// Filters a report down to the containers under one of `prefixes` (a prefix matches whole
// path components: "exp1" matches "exp1" and "exp1/high", not "exp10").
UsageReport Filtered(const UsageReport& in,
                     const google::protobuf::RepeatedPtrField<std::string>& prefixes) {
  UsageReport out;
  out.set_sequence(in.sequence());
  out.set_agent_instance(in.agent_instance());
  *out.mutable_time() = in.time();
  *out.mutable_host() = in.host();
  out.set_sample_duration_ns(in.sample_duration_ns());
  out.set_containers_not_sampled(in.containers_not_sampled());
  for (const auto& c : in.containers()) {
    const std::string& path = c.id().path();
    for (const std::string& p : prefixes) {
      if (p.empty() || path == p || absl::StartsWith(path, p + "/")) {
        *out.add_containers() = c;
        break;
      }
    }
  }
  return out;
}

}  // namespace

AgentServiceImpl::AgentServiceImpl(Agent* agent, ContainerAdmin* admin, ServiceManager* services,
                                   SysctlStore* sysctls, FactsFn facts,
                                   std::shared_ptr<const Authorizer> auth, Journal* journal)
    : agent_(agent),
      admin_(admin),
      services_(services),
      sysctls_(sysctls),
      facts_(std::move(facts)),
      auth_(std::move(auth)),
      own_journal_(journal == nullptr ? std::make_unique<Journal>("") : nullptr),
      journal_(journal == nullptr ? own_journal_.get() : journal) {}

std::vector<std::string> AgentServiceImpl::MutatingMethods() {
  std::vector<std::string> out;
  for (const char* m : {"CreateContainer", "UpdateContainer", "DeleteContainer", "StartService",
                        "StopService", "ReleaseOwner", "SetSysctl", "RestoreSysctls"}) {
    out.push_back(absl::StrCat("/rcbench.v1.Agent/", m));
  }
  return out;
}

void AgentServiceImpl::Shutdown() {
  shutdown_ = true;
  agent_->ring().Close();
}

grpc::Status AgentServiceImpl::GetHostFacts(grpc::ServerContext* ctx,
                                            const rcbench::v1::GetHostFactsRequest* req,
                                            rcbench::v1::HostFacts* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kRead, "GetHostFacts"); !a.ok()) return a;
  for (const std::string& name : req->sysctls()) {
    if (absl::Status s = ValidateSysctlName(name); !s.ok()) return Invalid(s);
  }
  std::vector<std::string> extra(req->sysctls().begin(), req->sysctls().end());
  *resp = facts_(extra);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::SubscribeUsage(grpc::ServerContext* ctx,
                                              const rcbench::v1::SubscribeUsageRequest* req,
                                              grpc::ServerWriter<UsageReport>* writer) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kRead, "SubscribeUsage"); !a.ok()) return a;
  if (absl::Status s = ValidateSubscribeUsageRequest(*req); !s.ok()) return Invalid(s);
  uint64_t after = ResumeAfter(req->resume_after_sequence(), agent_->ring().last_sequence());
  while (!ctx->IsCancelled() && !shutdown_) {
    ReportRing::Batch batch = agent_->ring().WaitAfter(after, std::chrono::milliseconds(200));
    for (size_t i = 0; i < batch.reports.size(); ++i) {
      const ReportPtr& r = batch.reports[i];
      // A gap (the subscriber fell behind the ring) is reported on the report after it.
      const uint64_t missed = i == 0 ? batch.missed : 0;
      bool ok;
      if (req->path_prefixes_size() > 0 || missed > 0) {
        UsageReport copy = req->path_prefixes_size() > 0 ? Filtered(*r, req->path_prefixes()) : *r;
        copy.set_missed_reports(missed);
        ok = writer->Write(copy);
      } else {
        ok = writer->Write(*r);
      }
      if (!ok) return grpc::Status::OK;  // the subscriber went away
      after = r->sequence();
    }
    if (batch.closed && batch.reports.empty()) break;
  }
  return grpc::Status::OK;
}

void AgentServiceImpl::LogJournalError(const absl::Status& s) const {
  if (!s.ok()) {
    RCBENCH_LOG(WARNING) << s;
  }
}

grpc::Status AgentServiceImpl::NoAdmin() const {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "this agent does not administer containers (see its log)");
}

grpc::Status AgentServiceImpl::CreateContainer(grpc::ServerContext* ctx,
                                               const rcbench::v1::CreateContainerRequest* req,
                                               rcbench::v1::ContainerInfo* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "CreateContainer"); !a.ok()) return a;
  if (absl::Status s = ValidateCreateContainerRequest(*req); !s.ok()) return Invalid(s);
  if (admin_ == nullptr) return NoAdmin();
  const std::vector<std::string> created = MissingContainers(*admin_, req->path());
  auto info = admin_->Create(req->path(), req->attributes(), req->exist_ok());
  if (!info.ok()) return ToGrpcStatus(info.status());
  for (const std::string& path : created) {
    LogJournalError(journal_->RecordContainer(path, req->owner()));
  }
  *resp = *info;
  resp->set_owner(journal_->ContainerOwner(req->path()));
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::UpdateContainer(grpc::ServerContext* ctx,
                                               const rcbench::v1::UpdateContainerRequest* req,
                                               rcbench::v1::ContainerInfo* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "UpdateContainer"); !a.ok()) return a;
  if (absl::Status s = ValidateUpdateContainerRequest(*req); !s.ok()) return Invalid(s);
  if (admin_ == nullptr) return NoAdmin();
  auto info = admin_->Update(req->path(), req->attributes());
  if (!info.ok()) return ToGrpcStatus(info.status());
  *resp = *info;
  resp->set_owner(journal_->ContainerOwner(req->path()));
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::DeleteContainer(grpc::ServerContext* ctx,
                                               const rcbench::v1::DeleteContainerRequest* req,
                                               rcbench::v1::DeleteContainerResponse*) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "DeleteContainer"); !a.ok()) return a;
  if (absl::Status s = ValidateContainerPath(req->path()); !s.ok()) return Invalid(s);
  if (admin_ == nullptr) return NoAdmin();
  absl::Status deleted = admin_->Delete(req->path(), req->recursive());
  if (deleted.ok() || absl::IsNotFound(deleted)) {
    LogJournalError(journal_->ForgetContainer(req->path(), req->recursive()));
  }
  return ToGrpcStatus(deleted);
}

grpc::Status AgentServiceImpl::ListContainers(grpc::ServerContext* ctx,
                                              const rcbench::v1::ListContainersRequest* req,
                                              rcbench::v1::ListContainersResponse* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kRead, "ListContainers"); !a.ok()) return a;
  if (absl::Status s = ValidateContainerPath(req->path_prefix(), /*allow_empty=*/true); !s.ok()) {
    return Invalid(s);
  }
  if (admin_ == nullptr) return NoAdmin();
  auto list = admin_->List(req->path_prefix());
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (auto& info : *list) {
    info.set_owner(journal_->ContainerOwner(info.id().path()));
    *resp->add_containers() = std::move(info);
  }
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::StartService(grpc::ServerContext* ctx,
                                            const rcbench::v1::StartServiceRequest* req,
                                            rcbench::v1::ServiceStatus* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "StartService"); !a.ok()) return a;
  // ServiceManager::Start validates the whole request (ValidateStartServiceRequest) first.
  return ToGrpcReply(services_->Start(*req), resp);
}

grpc::Status AgentServiceImpl::StopService(grpc::ServerContext* ctx,
                                           const rcbench::v1::StopServiceRequest* req,
                                           rcbench::v1::ServiceStatus* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "StopService"); !a.ok()) return a;
  std::chrono::nanoseconds grace = std::chrono::seconds(5);
  if (req->has_grace()) {
    grace = std::chrono::seconds(req->grace().seconds()) +
            std::chrono::nanoseconds(req->grace().nanos());
    if (grace < std::chrono::nanoseconds(0) || grace > std::chrono::minutes(5)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "grace must be in 0..5m");
    }
  }
  return ToGrpcReply(services_->Stop(req->name(), grace), resp);
}

grpc::Status AgentServiceImpl::GetServiceStatus(grpc::ServerContext* ctx,
                                                const rcbench::v1::GetServiceStatusRequest* req,
                                                rcbench::v1::ServiceStatus* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kRead, "GetServiceStatus"); !a.ok()) return a;
  return ToGrpcReply(services_->Status(req->name()), resp);
}

grpc::Status AgentServiceImpl::ReleaseOwner(grpc::ServerContext* ctx,
                                            const rcbench::v1::ReleaseOwnerRequest* req,
                                            rcbench::v1::ReleaseOwnerResponse* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "ReleaseOwner"); !a.ok()) return a;
  if (absl::Status s = ValidateReleaseOwnerRequest(*req); !s.ok()) return Invalid(s);
  const std::string& owner = req->owner();
  // Services first: their processes would otherwise be moved to the parent container.
  if (services_ != nullptr) {
    for (std::string& name : services_->StopOwnedBy(owner, ReleaseGrace(*req))) {
      resp->add_stopped_services(std::move(name));
    }
  }
  for (const std::string& path : journal_->ContainersOwnedBy(owner)) {
    absl::Status s =
        admin_ == nullptr
            ? absl::FailedPreconditionError("this agent does not administer containers")
            : admin_->Delete(path, /*recursive=*/false);
    if (s.ok() || absl::IsNotFound(s)) {
      LogJournalError(journal_->ForgetContainer(path, /*descendants=*/false));
      if (s.ok()) resp->add_removed_containers(path);
    } else {
      resp->add_kept_containers(absl::StrCat(path, ": ", s.message()));
    }
  }
  RCBENCH_LOG(INFO) << "released owner " << owner << ": stopped " << resp->stopped_services_size()
                    << " services, removed " << resp->removed_containers_size()
                    << " containers, kept " << resp->kept_containers_size();
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::SetSysctl(grpc::ServerContext* ctx,
                                         const rcbench::v1::SetSysctlRequest* req,
                                         rcbench::v1::SetSysctlResponse* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "SetSysctl"); !a.ok()) return a;
  auto change = sysctls_->Set(req->name(), req->value());
  if (!change.ok()) return ToGrpcStatus(change.status());
  resp->set_previous_value(change->previous_value);
  resp->set_original_value(change->original_value);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::RestoreSysctls(grpc::ServerContext* ctx,
                                              const rcbench::v1::RestoreSysctlsRequest*,
                                              rcbench::v1::RestoreSysctlsResponse* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "RestoreSysctls"); !a.ok()) return a;
  for (auto& [name, value] : sysctls_->Restore()) (*resp->mutable_restored())[name] = value;
  return grpc::Status::OK;
}

}  // namespace rcbench::agent
