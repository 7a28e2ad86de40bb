#pragma once

// Everything a running rcbench-agent is, wired together: the sampler thread, the gRPC server
// (Agent + grpc.health.v1), the /metrics server, container admin, named services and
// sysctls. Start first reconciles the journal a killed predecessor left in the state directory
// (agent/reconcile.h), then keeps its own there (agent/journal.h). Shutdown stops services,
// restores sysctls, ends subscriptions and removes the journal. Thread-safe.

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "agent/agent.h"
#include "agent/agent_service.h"
#include "agent/cgroup_layout.h"
#include "agent/config.h"
#include "agent/journal.h"
#include "agent/metrics.h"
#include "common/daemon.h"
#include "common/rpc_security.h"
#include "grpcpp/server.h"

namespace rcbench::agent {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";
  std::string metrics_listen = "127.0.0.1:0";  // "" = no /metrics
  CgroupLayout layout;
  std::string proc_dir = "/proc";
  std::string sysctl_dir = "/proc/sys";
  // Service logs, ready files and the journal. "" = a new directory under /tmp, removed at
  // shutdown (so nothing is reconciled across restarts).
  std::string state_dir;
  // Administer containers through rc/ on this host (false for fake trees: admin RPCs and
  // services then fail with FAILED_PRECONDITION).
  bool manage_containers = true;
  // How the gRPC listener is secured (common/rpc_security.h); the token file is required.
  ServerSecurity security;
};

class AgentServer {
 public:
  // Binds both listeners and starts sampling. UNAVAILABLE when an address cannot be bound;
  // the errors of Authorizer::Load and BuildRpcServer when the security settings are wrong.
  static absl::StatusOr<std::unique_ptr<AgentServer>> Start(const AgentConfig& config,
                                                            const ServerOptions& options);
  ~AgentServer();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  std::string grpc_address() const;
  std::string metrics_address() const;
  Agent& agent() { return *agent_; }
  // An in-process channel to the gRPC server (tests).
  std::shared_ptr<grpc::Channel> InProcessChannel();

  // Idempotent; also done by the destructor.
  void Shutdown();

 private:
  AgentServer() = default;
  AgentConfig config_;
  ServerOptions options_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<ContainerAdmin> admin_;
  std::unique_ptr<Journal> journal_;  // outlives services_, whose threads record in it
  std::unique_ptr<ServiceManager> services_;
  std::unique_ptr<SysctlStore> sysctls_;
  std::unique_ptr<AgentServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::thread sampler_thread_;
  std::string owned_state_dir_;  // created by Start, removed by Shutdown
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace rcbench::agent
