#pragma once

// The rcbench.v1.Agent gRPC service (sync API): usage subscriptions from the report ring,
// container admin confined to the root subtree, named services and allow-listed sysctls.
// Every call is authorized first: host facts, usage, container listings and service status
// need the read role, everything that changes the host the control role (UNAUTHENTICATED or
// PERMISSION_DENIED otherwise). Owners of the containers it creates are recorded in a Journal
// (ReleaseOwner deletes an owner's containers). Every dependency must outlive the service.
// Thread-safe.

#include <atomic>
#include <functional>
#include <string>

#include "agent/agent.h"
#include "agent/container_admin.h"
#include "agent/journal.h"
#include "agent/service_manager.h"
#include "agent/sysctl_store.h"
#include "common/rpc_security.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {

class AgentServiceImpl final : public rcbench::v1::Agent::Service {
 public:
  using FactsFn = std::function<rcbench::v1::HostFacts(const std::vector<std::string>& extra)>;
  // `journal` null: owners are kept in memory only (a Journal without a file).
  AgentServiceImpl(Agent* agent, ContainerAdmin* admin, ServiceManager* services,
                   SysctlStore* sysctls, FactsFn facts, std::shared_ptr<const Authorizer> auth,
                   Journal* journal = nullptr);

  // The methods that change the host, as "/rcbench.v1.Agent/Name": their calls are audited and
  // need the control role.
  static std::vector<std::string> MutatingMethods();

  // `admin` and `services` may be null when this agent administers no containers.
  // Ends every open subscription (their streams finish with OK) so the server can shut down.
  void Shutdown();

  grpc::Status GetHostFacts(grpc::ServerContext* ctx, const rcbench::v1::GetHostFactsRequest* req,
                            rcbench::v1::HostFacts* resp) override;
  grpc::Status SubscribeUsage(grpc::ServerContext* ctx,
                              const rcbench::v1::SubscribeUsageRequest* req,
                              grpc::ServerWriter<rcbench::v1::UsageReport>* writer) override;
  grpc::Status CreateContainer(grpc::ServerContext* ctx,
                               const rcbench::v1::CreateContainerRequest* req,
                               rcbench::v1::ContainerInfo* resp) override;
  grpc::Status UpdateContainer(grpc::ServerContext* ctx,
                               const rcbench::v1::UpdateContainerRequest* req,
                               rcbench::v1::ContainerInfo* resp) override;
  grpc::Status DeleteContainer(grpc::ServerContext* ctx,
                               const rcbench::v1::DeleteContainerRequest* req,
                               rcbench::v1::DeleteContainerResponse* resp) override;
  grpc::Status ListContainers(grpc::ServerContext* ctx,
                              const rcbench::v1::ListContainersRequest* req,
                              rcbench::v1::ListContainersResponse* resp) override;
  grpc::Status StartService(grpc::ServerContext* ctx, const rcbench::v1::StartServiceRequest* req,
                            rcbench::v1::ServiceStatus* resp) override;
  grpc::Status StopService(grpc::ServerContext* ctx, const rcbench::v1::StopServiceRequest* req,
                           rcbench::v1::ServiceStatus* resp) override;
  grpc::Status GetServiceStatus(grpc::ServerContext* ctx,
                                const rcbench::v1::GetServiceStatusRequest* req,
                                rcbench::v1::ServiceStatus* resp) override;
  grpc::Status ReleaseOwner(grpc::ServerContext* ctx, const rcbench::v1::ReleaseOwnerRequest* req,
                            rcbench::v1::ReleaseOwnerResponse* resp) override;
  grpc::Status SetSysctl(grpc::ServerContext* ctx, const rcbench::v1::SetSysctlRequest* req,
                         rcbench::v1::SetSysctlResponse* resp) override;
  grpc::Status RestoreSysctls(grpc::ServerContext* ctx,
                              const rcbench::v1::RestoreSysctlsRequest* req,
                              rcbench::v1::RestoreSysctlsResponse* resp) override;

 private:
  grpc::Status NoAdmin() const;
  void LogJournalError(const absl::Status& s) const;

  Agent* agent_;
  ContainerAdmin* admin_;
  ServiceManager* services_;
  SysctlStore* sysctls_;
  FactsFn facts_;
  std::shared_ptr<const Authorizer> auth_;
  std::unique_ptr<Journal> own_journal_;  // when none was given
  Journal* journal_;
  std::atomic<bool> shutdown_{false};
};

}  // namespace rcbench::agent
