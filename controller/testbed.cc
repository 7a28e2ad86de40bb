#include "controller/testbed.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/spec_render.h"

namespace rcbench::controller {
namespace {

// A client over a new channel for `link` (MakeChannel's errors name the link).
template <typename Client>
absl::StatusOr<std::unique_ptr<Client>> Connect(Link link, Clock& clock, RetryPolicy policy = {}) {
  RCBENCH_ASSIGN_OR_RETURN(auto channel, MakeChannel(link));
  return std::make_unique<Client>(std::move(link), std::move(channel), clock, policy);
}

// A client of a local child at the grpc= address of its ready file; `binary` names the child in
// the error when there is none.
template <typename Client>
absl::StatusOr<std::unique_ptr<Client>> ConnectChild(
    const std::map<std::string, std::string>& ready, absl::string_view binary, std::string kind,
    const ClientSecurity& security, Clock& clock) {
  auto grpc = ready.find("grpc");
  if (grpc == ready.end()) {
    return absl::InternalError(absl::StrCat(binary, "'s ready file has no grpc= line"));
  }
  return Connect<Client>({std::move(kind), kLocalHost, grpc->second, security}, clock);
}

}  // namespace

TemplateVars ServerVarsFromReady(const std::map<std::string, std::string>& ready) {
  TemplateVars vars;
  for (const auto& [key, value] : ready) {
    if (key == "http" || absl::StartsWith(key, "http.")) {
      vars["server." + key] = "http://" + value;
      vars["server.endpoint" + key.substr(4)] = value;
      if (key == "http") {
        size_t colon = value.rfind(':');
        std::string host = value.substr(0, colon);
        if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
        vars["server.address"] = host;
      }
    } else if (key == "metrics") {
      vars["server.metrics"] = value;
    }
  }
  return vars;
}

absl::Status ConfigureLocalNetwork(const ExperimentSpec& spec, LocalTestbedOptions& options) {
  options.network = spec.network;
  if (spec.network != LocalNetwork::kNamespaces) return absl::OkStatus();
  RCBENCH_ASSIGN_OR_RETURN(options.netns_tools, FindNetnsTools());
  options.spoof_prefixes = AllSpoofPrefixes(spec);
  options.netns_sysctls.clear();
  for (const auto& [name, value] : spec.sysctls) options.netns_sysctls.push_back(name);
  return absl::OkStatus();
}

LocalTestbed::LocalTestbed(LocalTestbedOptions options, Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

LocalTestbed::~LocalTestbed() { Stop(); }

std::string LocalTestbed::Binary(const std::string& name) const {
  if (name.find('/') != std::string::npos) return name;
  return (std::filesystem::path(options_.bin_dir) / name).string();
}

absl::StatusOr<std::map<std::string, std::string>> LocalTestbed::StartChild(
    const std::string& name, std::vector<std::string> argv, std::unique_ptr<ChildProcess>* child) {
  std::string ready = (std::filesystem::path(options_.work_dir) / (name + ".ready")).string();
  std::filesystem::remove(ready);
  argv.push_back("--ready-file");
  argv.push_back(ready);
  argv.push_back("--die-with-parent");
  RCBENCH_ASSIGN_OR_RETURN(
      *child, ChildProcess::Spawn(
                  argv, (std::filesystem::path(options_.work_dir) / (name + ".log")).string()));
  RCBENCH_LOG(DEBUG) << "started " << name << " pid " << (*child)->pid();
  return (*child)->WaitReady(ready, std::chrono::seconds(20), clock_);
}

std::string LocalTestbed::ControlAddress(bool server_side) const {
  if (!topology_) return "127.0.0.1";
  return server_side ? topology_->server_control_address() : topology_->client_control_address();
}

std::vector<std::string> LocalTestbed::InNamespace(bool server_side,
                                                   std::vector<std::string> argv) const {
  if (!topology_) return argv;
  return topology_->InNamespace(server_side ? topology_->server_ns() : topology_->client_ns(),
                                argv);
}

absl::Status LocalTestbed::StartTopology() {
  if (options_.network != LocalNetwork::kNamespaces || topology_) return absl::OkStatus();
  std::string id = options_.netns_id.empty() ? std::to_string(getpid()) : options_.netns_id;
  auto topology = std::make_unique<NetnsTopology>(id, options_.spoof_prefixes, options_.netns_tools,
                                                  commands_, getpid());
  RCBENCH_RETURN_IF_ERROR(topology->Create());
  topology_ = std::move(topology);
  if (options_.agent_config.empty() && !options_.netns_sysctls.empty()) {
    std::string path = (std::filesystem::path(options_.work_dir) / "agent-netns.yaml").string();
    std::ofstream out(path);
    out << "# Written by rcbench for the agent in namespace " << topology_->server_ns() << "\n"
        << "sysctls:\n  allow: [" << absl::StrJoin(options_.netns_sysctls, ", ") << "]\n";
    if (!out) return absl::InternalError("cannot write " + path);
    options_.agent_config = path;
  }
  return absl::OkStatus();
}

absl::Status LocalTestbed::Start() {
  std::error_code ec;
  std::filesystem::create_directories(options_.work_dir, ec);
  if (ec) return absl::InternalError("cannot create " + options_.work_dir + ": " + ec.message());
  RCBENCH_RETURN_IF_ERROR(StartTopology());
  if (!credentials_) {
    std::vector<std::string> hosts = {"127.0.0.1", "::1", "localhost"};
    if (topology_) {
      hosts.push_back(ControlAddress(true));
      hosts.push_back(ControlAddress(false));
    }
    RCBENCH_ASSIGN_OR_RETURN(credentials_, LocalCredentials::Create(options_.work_dir, hosts));
  }
  if (!agent_process_ || !agent_process_->Running()) {
    if (agent_) {
      RCBENCH_LOG(WARNING) << "rcbench-agent died; restarting it";
      retired_agents_.push_back(std::move(agent_));
    }
    const std::string listen = ControlAddress(true) + ":0";
    std::vector<std::string> argv = {
        Binary("rcbench-agent"), "--listen", listen, "--metrics-listen", listen, "--interval",
        FormatDuration(options_.agent_interval), "--root", options_.root_name,
        // Kept across restarts: a restarted agent reconciles
        // what its previous life left (agent/README.md).
        "--state-dir", (std::filesystem::path(options_.work_dir) / "agent-state").string()};
    if (!options_.agent_config.empty()) {
      argv.push_back("--config");
      argv.push_back(options_.agent_config);
    }
    for (std::string& f : credentials_->ChildFlags()) argv.push_back(std::move(f));
    RCBENCH_ASSIGN_OR_RETURN(agent_ready_,
                             StartChild("agent", InNamespace(true, argv), &agent_process_));
    RCBENCH_ASSIGN_OR_RETURN(agent_,
                             ConnectChild<GrpcAgentClient>(agent_ready_, "rcbench-agent", "agent",
                                                           credentials_->client(), clock_));
  }
  if (!loadgen_process_ || !loadgen_process_->Running()) {
    if (loadgen_) {
      RCBENCH_LOG(WARNING) << "rcbench-loadgen died; restarting it";
      retired_loadgens_.push_back(std::move(loadgen_));
    }
    const std::string listen = ControlAddress(false) + ":0";
    std::vector<std::string> argv = {Binary("rcbench-loadgen"), "serve", "--listen",       listen,
                                     "--metrics-listen",        listen,  "--max-duration", "10m"};
    if (topology_) {
      // The server's address is the only target outside loopback it may load or flood.
      argv.push_back("--allow-target");
      argv.push_back(absl::StrCat(kNetnsServerAddress, "/32"));
    }
    for (std::string& f : credentials_->ChildFlags()) argv.push_back(std::move(f));
    RCBENCH_ASSIGN_OR_RETURN(loadgen_ready_,
                             StartChild("loadgen", InNamespace(false, argv), &loadgen_process_));
    RCBENCH_ASSIGN_OR_RETURN(loadgen_, ConnectChild<GrpcLoadGenClient>(
                                           loadgen_ready_, "rcbench-loadgen", "load generator",
                                           credentials_->client(), clock_));
  }
  RCBENCH_RETURN_IF_ERROR(agent_->CheckHealth());
  return loadgen_->CheckHealth();
}

std::vector<std::string> LocalTestbed::agent_names() const { return {kLocalHost}; }
std::vector<std::string> LocalTestbed::loadgen_names() const { return {kLocalHost}; }

AgentClient* LocalTestbed::agent(const std::string& name) {
  return name == kLocalHost ? agent_.get() : nullptr;
}

LoadGenClient* LocalTestbed::loadgen(const std::string& name) {
  return name == kLocalHost ? loadgen_.get() : nullptr;
}

absl::StatusOr<TemplateVars> LocalTestbed::StartServer(const ServerLaunch& launch) {
  RCBENCH_RETURN_IF_ERROR(StopServer());
  // In the server namespace the HTTP listeners are on the data link (where the load generator
  // is) and /metrics on the control link (where the controller and Prometheus are).
  const std::string http = topology_ ? kNetnsServerAddress : "127.0.0.1";
  const std::string metrics = options_.server_metrics_listen.empty()
                                  ? ControlAddress(true) + ":0"
                                  : options_.server_metrics_listen;
  std::vector<std::string> argv = {Binary(options_.server_binary), "--listen", http + ":0",
                                   "--metrics-listen", metrics};
  for (const auto& c : launch.classes) {
    argv.push_back("--listen-class");
    argv.push_back(c + "=" + http + ":0");
  }
  argv.insert(argv.end(), launch.args.begin(), launch.args.end());
  std::string name = absl::StrCat("server-", ++server_starts_);
  std::string ready = (std::filesystem::path(options_.work_dir) / (name + ".ready")).string();
  std::filesystem::remove(ready);
  argv.push_back("--ready-file");
  argv.push_back(ready);
  argv.push_back("--die-with-parent");
  std::string log = (std::filesystem::path(options_.work_dir) / ("server.log")).string();
  RCBENCH_ASSIGN_OR_RETURN(server_process_, ChildProcess::Spawn(InNamespace(true, argv), log));
  auto r = server_process_->WaitReady(ready, launch.ready_timeout, clock_);
  if (!r.ok()) return r.status();
  return ServerVarsFromReady(*r);
}

absl::Status LocalTestbed::CheckServer() {
  if (server_process_ && server_process_->Running()) return absl::OkStatus();
  return absl::UnavailableError(
      server_process_ ? absl::StrCat("rcbench-server exited: ", server_process_->LogTail(5))
                      : "rcbench-server is not running");
}

absl::Status LocalTestbed::StopServer() {
  if (server_process_) {
    std::string how = server_process_->Stop();
    RCBENCH_LOG(DEBUG) << "server stopped: " << how;
    server_process_.reset();
  }
  return absl::OkStatus();
}

void LocalTestbed::Stop() {
  StopServer().IgnoreError();
  agent_.reset();
  loadgen_.reset();
  retired_agents_.clear();
  retired_loadgens_.clear();
  if (loadgen_process_) loadgen_process_->Stop();
  if (agent_process_) agent_process_->Stop();
  loadgen_process_.reset();
  agent_process_.reset();
  // After the children: a namespace outlives `ip netns del` while processes are in it.
  if (topology_) topology_->Destroy();
  topology_.reset();
  credentials_.reset();
}

absl::StatusOr<ClientSecurity> HostSecurity(const HostEndpoint& host,
                                            const ControllerSecurity& defaults) {
  ClientSecurity out;
  out.tls = defaults.tls;
  if (host.tls.enabled()) out.tls = host.tls;
  out.server_name = host.server_name;
  const std::string& token_file = host.token_file.empty() ? defaults.token_file : host.token_file;
  if (token_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host ", host.name, " (", host.address,
        "): no token to present: pass --token-file FILE (or token_file in the host's entry)"));
  }
  auto token = ReadTokenFile(token_file);
  if (!token.ok()) {
    return absl::Status(token.status().code(),
                        absl::StrCat("host ", host.name, ": ", token.status().message()));
  }
  out.token = *std::move(token);
  return out;
}

absl::StatusOr<std::unique_ptr<RemoteTestbed>> RemoteTestbed::Create(
    const ExperimentSpec& spec, Clock& clock, const ControllerSecurity& security,
    RetryPolicy policy) {
  std::unique_ptr<RemoteTestbed> t(new RemoteTestbed(spec));
  for (const auto& a : spec.agents) {
    RCBENCH_ASSIGN_OR_RETURN(ClientSecurity cs, HostSecurity(a, security));
    RCBENCH_ASSIGN_OR_RETURN(
        t->agents_[a.name],
        Connect<GrpcAgentClient>({"agent", a.name, a.address, std::move(cs)}, clock, policy));
  }
  for (const auto& l : spec.loadgens) {
    RCBENCH_ASSIGN_OR_RETURN(ClientSecurity cs, HostSecurity(l, security));
    RCBENCH_ASSIGN_OR_RETURN(
        t->loadgens_[l.name],
        Connect<GrpcLoadGenClient>({"load generator", l.name, l.address, std::move(cs)}, clock,
                                   policy));
  }
  return t;
}

absl::Status RemoteTestbed::Start() {
  for (auto& [name, a] : agents_) RCBENCH_RETURN_IF_ERROR(a->CheckHealth());
  for (auto& [name, l] : loadgens_) RCBENCH_RETURN_IF_ERROR(l->CheckHealth());
  return absl::OkStatus();
}

std::vector<std::string> RemoteTestbed::agent_names() const {
  std::vector<std::string> out;
  for (const auto& [n, a] : agents_) out.push_back(n);
  return out;
}

std::vector<std::string> RemoteTestbed::loadgen_names() const {
  std::vector<std::string> out;
  for (const auto& [n, l] : loadgens_) out.push_back(n);
  return out;
}

AgentClient* RemoteTestbed::agent(const std::string& name) {
  auto it = agents_.find(name);
  return it == agents_.end() ? nullptr : it->second.get();
}

LoadGenClient* RemoteTestbed::loadgen(const std::string& name) {
  auto it = loadgens_.find(name);
  return it == loadgens_.end() ? nullptr : it->second.get();
}

absl::StatusOr<TemplateVars> RemoteTestbed::StartServer(const ServerLaunch& launch) {
  if (!spec_.server) return absl::FailedPreconditionError("the experiment has no server");
  AgentClient* a = agent(ServerAgentName(spec_));
  if (a == nullptr) return absl::NotFoundError("no agent for the server");
  RCBENCH_RETURN_IF_ERROR(StopServer());
  const std::string& addr = spec_.server->listen_address;
  rcbench::v1::StartServiceRequest req;
  req.set_name(spec_.server->service);
  for (const std::string& arg :
       {std::string("--listen"), addr + ":0", std::string("--metrics-listen"), addr + ":0"}) {
    req.add_args(arg);
  }
  for (const auto& c : launch.classes) {
    req.add_args("--listen-class");
    req.add_args(c + "=" + addr + ":0");
  }
  for (const auto& arg : launch.args) req.add_args(arg);
  if (!spec_.server->container.empty()) req.set_container(spec_.server->container);
  SetDuration(launch.ready_timeout, req.mutable_ready_timeout());
  req.set_owner(launch.run_id);
  RCBENCH_ASSIGN_OR_RETURN(auto status, a->StartService(req));
  server_started_ = true;
  server_container_ = status.container().path();
  if (status.state() != rcbench::v1::ServiceStatus::STATE_RUNNING) {
    std::string tail;
    for (const auto& l : status.stderr_tail()) absl::StrAppend(&tail, "\n", l);
    return absl::UnavailableError(
        absl::StrCat("server did not become ready (state ", status.state(), ")", tail));
  }
  RCBENCH_ASSIGN_OR_RETURN(auto ready, ParseReadyFile(status.ready_info()));
  return ServerVarsFromReady(ready);
}

absl::Status RemoteTestbed::CheckServer() {
  if (!server_started_ || !spec_.server) return absl::UnavailableError("server not started");
  AgentClient* a = agent(ServerAgentName(spec_));
  if (a == nullptr) return absl::NotFoundError("no agent for the server");
  // The agent watches its service: an exit shows here within one probe.
  auto status = a->GetServiceStatus(spec_.server->service, std::chrono::milliseconds(1000));
  if (!status.ok()) return status.status();
  if (status->state() == rcbench::v1::ServiceStatus::STATE_RUNNING) return absl::OkStatus();
  std::string how = status->term_signal() != 0
                        ? absl::StrCat("killed by signal ", status->term_signal())
                        : absl::StrCat("exit code ", status->exit_code());
  std::string tail;
  for (const auto& l : status->stderr_tail()) absl::StrAppend(&tail, "\n  ", l);
  return absl::UnavailableError(absl::StrCat("service ", spec_.server->service, " on agent ",
                                             ServerAgentName(spec_), " is no longer running (", how,
                                             ")", tail));
}

absl::Status RemoteTestbed::StopServer() {
  if (!server_started_ || !spec_.server) return absl::OkStatus();
  server_started_ = false;
  AgentClient* a = agent(ServerAgentName(spec_));
  if (a == nullptr) return absl::OkStatus();
  absl::Status stopped = a->StopService(spec_.server->service);
  // The agent made the service's container for this run: remove it with the server.
  if (!server_container_.empty()) {
    absl::Status deleted = a->DeleteContainer(server_container_);
    if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) {
      RCBENCH_LOG(WARNING) << "deleting the server's container " << server_container_ << ": "
                           << deleted;
    }
    server_container_.clear();
  }
  return stopped;
}

}  // namespace rcbench::controller
