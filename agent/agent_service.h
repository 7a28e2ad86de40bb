#pragma once

// The rcbench.v1.Agent gRPC service (sync API): usage subscriptions from the report ring,
// container admin confined to the root subtree, named services and allow-listed sysctls.
// Every call is authorized first: host facts, usage, container listings and service status
// need the read role, everything that changes the host the control role (UNAUTHENTICATED or
// PERMISSION_DENIED otherwise). Every dependency must outlive the service. Thread-safe.

#include <atomic>
#include <functional>
#include <string>

#include "agent/agent.h"
#include "agent/container_admin.h"
#include "agent/service_manager.h"
#include "agent/sysctl_store.h"
#include "common/rpc_security.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {

class AgentServiceImpl final : public rcbench::v1::Agent::Service {
 public:
  using FactsFn = std::function<rcbench::v1::HostFacts(const std::vector<std::string>& extra)>;
  AgentServiceImpl(Agent* agent, ContainerAdmin* admin, ServiceManager* services,
                   SysctlStore* sysctls, FactsFn facts, std::shared_ptr<const Authorizer> auth);

  // The methods that change the host: their calls are audited.
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
  grpc::Status SetSysctl(grpc::ServerContext* ctx, const rcbench::v1::SetSysctlRequest* req,
                         rcbench::v1::SetSysctlResponse* resp) override;
  grpc::Status RestoreSysctls(grpc::ServerContext* ctx,
                              const rcbench::v1::RestoreSysctlsRequest* req,
                              rcbench::v1::RestoreSysctlsResponse* resp) override;

 private:
  grpc::Status NoAdmin() const;

  Agent* agent_;
  ContainerAdmin* admin_;
  ServiceManager* services_;
  SysctlStore* sysctls_;
  FactsFn facts_;
  std::shared_ptr<const Authorizer> auth_;
  std::atomic<bool> shutdown_{false};
};

}  // namespace rcbench::agent
