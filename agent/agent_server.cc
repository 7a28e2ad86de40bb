#include "agent/agent_server.h"

#include <stdlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/host_facts.h"
#include "agent/rc_container_admin.h"
#include "agent/reconcile.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace rcbench::agent {

absl::StatusOr<std::unique_ptr<AgentServer>> AgentServer::Start(const AgentConfig& config,
                                                                const ServerOptions& options) {
  std::unique_ptr<AgentServer> s(new AgentServer());
  s->config_ = config;
  s->options_ = options;
  RCBENCH_ASSIGN_OR_RETURN(auto listen, ParseHostPort(options.listen));
  // Refuse bad security settings before anything is sampled or created.
  RCBENCH_RETURN_IF_ERROR(CheckListenSecurity("rcbench-agent", listen, options.security));
  RCBENCH_ASSIGN_OR_RETURN(auto auth, Authorizer::Load("rcbench-agent", options.security));

  SamplerOptions so;
  so.layout = options.layout;
  so.root = config.root;
  so.io = config.io;
  so.psi = config.psi;
  so.proc_dir = options.proc_dir;
  so.max_open_files = config.max_open_cgroup_files;
  RCBENCH_ASSIGN_OR_RETURN(auto sampler, CgroupSampler::Create(so, RealClock::Get()));
  auto host = HostCounterReader::Create(options.proc_dir);
  if (!host.ok()) {
    RCBENCH_LOG(WARNING) << "no host counters: " << host.status();
  }
  AgentOptions ao;
  ao.host = config.host;
  ao.interval = config.interval;
  ao.retention = config.retention;
  ao.max_retained_bytes = config.max_retained_bytes;
  ao.sockets_interval = config.sockets_interval;
  s->agent_ = std::make_unique<Agent>(
      ao, std::move(sampler), host.ok() ? std::move(*host) : nullptr,
      config.sockets ? std::make_unique<SockDiagDumper>() : nullptr, RealClock::Get());

  std::string root = config.root == "/" ? "" : config.root;
  if (options.manage_containers && !root.empty()) {
    rc::ContainerSystem::Options rco;
    rco.probe.root_name = root;
    auto system = rc::ContainerSystem::Open(rco);
    if (system.ok()) {
      s->admin_ = std::make_unique<RcContainerAdmin>(std::move(*system), config.host);
    } else {
      RCBENCH_LOG(WARNING) << "container admin unavailable: " << system.status();
    }
  }
  std::string state_dir = options.state_dir;
  if (state_dir.empty()) {
    char tmpl[] = "/tmp/rcbench-agent-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return absl::UnavailableError("cannot create a state dir");
    state_dir = tmpl;
    s->owned_state_dir_ = state_dir;
  }
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the state dir ", state_dir, ": ", ec.message()));
  }
  // Before serving: what a killed predecessor left must be gone before anyone creates anew.
  const std::string journal_path = absl::StrCat(state_dir, "/agent.journal");
  ReconcileJournal(journal_path, s->admin_.get());
  s->journal_ = std::make_unique<Journal>(journal_path);
  if (!s->journal_->init_status().ok()) {
    return absl::UnavailableError(s->journal_->init_status().message());
  }
  s->services_ =
      std::make_unique<ServiceManager>(config.services, s->admin_.get(), state_dir, config.host,
                                       config.service_limits, s->journal_.get());
  s->sysctls_ = std::make_unique<SysctlStore>(options.sysctl_dir, config.sysctl_allow);
  CgroupLayout layout = options.layout;
  SysctlStore* sysctls = s->sysctls_.get();
  std::vector<std::string> fact_sysctls = config.fact_sysctls;
  std::string proc_dir = options.proc_dir;
  s->service_ = std::make_unique<AgentServiceImpl>(
      s->agent_.get(), s->admin_.get(), s->services_.get(), s->sysctls_.get(),
      [layout, sysctls, fact_sysctls, proc_dir](const std::vector<std::string>& extra) {
        std::vector<std::string> names = fact_sysctls;
        names.insert(names.end(), extra.begin(), extra.end());
        HostFactsSources src;
        src.proc_dir = proc_dir;
        return CollectHostFacts(src, layout, *sysctls, names);
      },
      auth, s->journal_.get());

  RpcServerOptions rpc;
  rpc.component = "rcbench-agent";
  rpc.listen = options.listen;
  rpc.security = options.security;
  rpc.audited_methods = AgentServiceImpl::MutatingMethods();
  RCBENCH_ASSIGN_OR_RETURN(BuiltRpcServer built, BuildRpcServer(rpc, {s->service_.get()}));
  s->server_ = std::move(built.server);
  s->grpc_port_ = built.port;
  if (!options.metrics_listen.empty()) {
    auto collector =
        std::make_shared<AgentCollector>(s->agent_.get(), root, config.metrics_max_containers);
    auto metrics = MetricsEndpoint::Start(options.metrics_listen, collector);
    if (!metrics.ok()) {
      s->server_->Shutdown();
      return metrics.status();
    }
    s->metrics_ = std::move(*metrics);
  }
  Agent* agent = s->agent_.get();
  s->sampler_thread_ = std::thread([agent] { agent->Run(); });
  RCBENCH_LOG(INFO) << "agent sampling " << so.root << " every " << FormatDuration(config.interval)
                    << "; gRPC on " << s->grpc_address() << ", metrics on " << s->metrics_address();
  return s;
}

std::string AgentServer::grpc_address() const {
  auto hp = ParseHostPort(options_.listen);
  return JoinHostPort(hp.ok() ? hp->host : "127.0.0.1", grpc_port_);
}

std::string AgentServer::metrics_address() const {
  if (!metrics_) return "";
  return metrics_->address();
}

std::shared_ptr<grpc::Channel> AgentServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

void AgentServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Start may have failed part way: only what was built is stopped.
  if (agent_) agent_->Stop();
  if (service_) service_->Shutdown();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (sampler_thread_.joinable()) sampler_thread_.join();
  if (services_) services_->StopAll(std::chrono::seconds(5));
  // A clean exit leaves nothing to reconcile: the containers stay on purpose (the controller
  // owns them), and the services are stopped.
  if (journal_) {
    if (absl::Status st = journal_->Close(); !st.ok()) {
      RCBENCH_LOG(WARNING) << st;
    }
  }
  if (sysctls_) {
    for (const auto& [name, value] : sysctls_->Restore()) {
      RCBENCH_LOG(INFO) << "restored sysctl " << name << " = " << value;
    }
  }
  metrics_.reset();
  if (!owned_state_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(owned_state_dir_, ec);
  }
}

AgentServer::~AgentServer() { Shutdown(); }

}  // namespace rcbench::agent
