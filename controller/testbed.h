#pragma once

// The testbed seam: where an experiment's agents, load generators and server under test come
// from. LocalTestbed starts rcbench-agent, rcbench-loadgen and rcbench-server as children on
// 127.0.0.1 with ephemeral ports (local mode); RemoteTestbed connects to the hosts the spec
// lists and starts the server through its agent. Used from one thread (the runner's), except
// CheckServer, which the runner's HostWatch also calls from its own thread while the server
// runs (the runner never lets two CheckServer calls, or CheckServer and Start/StopServer, overlap).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/child_process.h"
#include "controller/clients.h"
#include "controller/local_credentials.h"
#include "controller/netns_topology.h"
#include "controller/spec.h"
#include "controller/template.h"

namespace rcbench::controller {

struct ServerLaunch {
  std::vector<std::string> args;
  std::vector<std::string> classes;
  std::chrono::nanoseconds ready_timeout{std::chrono::seconds(15)};
  std::string run_id;
};

class Testbed {
 public:
  virtual ~Testbed() = default;
  // Brings the hosts up (local mode: starts the children, and restarts any that died; their
  // clients then change) and checks their health. Called before every run.
  virtual absl::Status Start() = 0;
  virtual std::vector<std::string> agent_names() const = 0;
  virtual std::vector<std::string> loadgen_names() const = 0;
  // nullptr for an unknown name.
  virtual AgentClient* agent(const std::string& name) = 0;
  virtual LoadGenClient* loadgen(const std::string& name) = 0;
  // Starts the server under test; returns the run-time template variables (server.http,
  // server.http.CLASS, server.address, server.metrics).
  virtual absl::StatusOr<TemplateVars> StartServer(const ServerLaunch& launch) = 0;
  // OK while the server is up; UNAVAILABLE with the reason otherwise (multi-host: the agent's
  // status of the service, so an exit shows within one call). Bounded to about a second.
  virtual absl::Status CheckServer() = 0;
  virtual absl::Status StopServer() = 0;
  // Stops everything Start started. Idempotent.
  virtual void Stop() = 0;
};

// Turns a ready file's keys into template variables (http=ADDR -> server.http=http://ADDR).
TemplateVars ServerVarsFromReady(const std::map<std::string, std::string>& ready);

struct LocalTestbedOptions {
  std::string bin_dir;       // where rcbench-agent, rcbench-loadgen, rcbench-server are
  std::string work_dir;      // ready files and logs
  std::string agent_config;  // passed as --config when set
  std::string root_name = "rcbench";
  std::chrono::nanoseconds agent_interval = std::chrono::seconds(1);
  std::string server_binary = "rcbench-server";
  // kNamespaces: agent and server in one network namespace, the load generator in another
  // (controller/netns_topology.h), made by Start() and removed by Stop().
  LocalNetwork network = LocalNetwork::kLoopback;
  NetnsTools netns_tools;                   // from FindNetnsTools()
  std::vector<std::string> spoof_prefixes;  // routed to the client namespace's blackhole
  // Without agent_config, the agent in the server namespace is given a config allowing these
  // sysctls (per-namespace ones: /proc/sys/net of a non-initial namespace shows only those).
  std::vector<std::string> netns_sysctls;
  std::string netns_id;  // names the namespaces; default: the controller's pid
  // The server's --metrics-listen; empty: port 0 on the control address. A fixed port keeps
  // one scrape target across runs.
  std::string server_metrics_listen;
};

// Fills in `options`' network fields for `spec` (local mode). With `network: namespaces`,
// FAILED_PRECONDITION when not root or `ip`/`nsenter` are missing.
absl::Status ConfigureLocalNetwork(const ExperimentSpec& spec, LocalTestbedOptions& options);

class LocalTestbed : public Testbed {
 public:
  LocalTestbed(LocalTestbedOptions options, Clock& clock);
  ~LocalTestbed() override;
  absl::Status Start() override;
  std::vector<std::string> agent_names() const override;
  std::vector<std::string> loadgen_names() const override;
  AgentClient* agent(const std::string& name) override;
  LoadGenClient* loadgen(const std::string& name) override;
  absl::StatusOr<TemplateVars> StartServer(const ServerLaunch& launch) override;
  absl::Status CheckServer() override;
  absl::Status StopServer() override;
  void Stop() override;

  // The namespaces topology while it exists (network: namespaces), else nullptr.
  const NetnsTopology* topology() const { return topology_.get(); }
  // Addresses from the children's ready files (for logs and tests).
  const std::map<std::string, std::string>& agent_ready() const { return agent_ready_; }
  const std::map<std::string, std::string>& loadgen_ready() const { return loadgen_ready_; }

 private:
  absl::StatusOr<std::map<std::string, std::string>> StartChild(
      const std::string& name, std::vector<std::string> argv, std::unique_ptr<ChildProcess>* child);
  std::string Binary(const std::string& name) const;
  absl::Status StartTopology();
  // The address children listen on for the controller, and the argv run in the namespace.
  std::string ControlAddress(bool server_side) const;
  std::vector<std::string> InNamespace(bool server_side, std::vector<std::string> argv) const;

  LocalTestbedOptions options_;
  Clock& clock_;
  std::unique_ptr<ChildProcess> agent_process_, loadgen_process_, server_process_;
  std::map<std::string, std::string> agent_ready_, loadgen_ready_;
  std::unique_ptr<AgentClient> agent_;
  std::unique_ptr<LoadGenClient> loadgen_;
  // Clients of children that died and were restarted: kept alive because a usage collector
  // may still hold one until the runner replaces it.
  std::vector<std::unique_ptr<AgentClient>> retired_agents_;
  std::vector<std::unique_ptr<LoadGenClient>> retired_loadgens_;
  int server_starts_ = 0;
  SubprocessCommandRunner commands_;
  std::unique_ptr<NetnsTopology> topology_;
  // Made by the first Start(): the children's certificates and token (local_credentials.h).
  std::unique_ptr<LocalCredentials> credentials_;
};

// The controller's defaults for its links to remote hosts (`rcbench run`/`serve` flags or the
// controller's config file); a host's own entry in the spec's `hosts:` overrides them.
struct ControllerSecurity {
  TlsFiles tls;
  std::string token_file;
};

// The client side of the link to `host`: its TLS files or the defaults, its server name, and
// the token read from its token file or the default one. INVALID_ARGUMENT without a token.
absl::StatusOr<ClientSecurity> HostSecurity(const HostEndpoint& host,
                                            const ControllerSecurity& defaults);

class RemoteTestbed : public Testbed {
 public:
  // Builds a secured channel to every host (HostSecurity); their errors name the host.
  static absl::StatusOr<std::unique_ptr<RemoteTestbed>> Create(const ExperimentSpec& spec,
                                                               Clock& clock,
                                                               const ControllerSecurity& security,
                                                               RetryPolicy policy = {});
  absl::Status Start() override;
  std::vector<std::string> agent_names() const override;
  std::vector<std::string> loadgen_names() const override;
  AgentClient* agent(const std::string& name) override;
  LoadGenClient* loadgen(const std::string& name) override;
  absl::StatusOr<TemplateVars> StartServer(const ServerLaunch& launch) override;
  absl::Status CheckServer() override;
  absl::Status StopServer() override;
  void Stop() override {}

 private:
  explicit RemoteTestbed(const ExperimentSpec& spec) : spec_(spec) {}
  const ExperimentSpec& spec_;
  std::map<std::string, std::unique_ptr<AgentClient>> agents_;
  std::map<std::string, std::unique_ptr<LoadGenClient>> loadgens_;
  bool server_started_ = false;
  std::string server_container_;
};

}  // namespace rcbench::controller
