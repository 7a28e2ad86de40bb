#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <iostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/daemon.h"
#include "common/rpc_security.h"
#include "controller/cli_commands.h"
#include "controller/controller_config.h"
#include "controller/controller_metrics.h"
#include "controller/controller_service.h"
#include "controller/store.h"

namespace rcbench::controller::cli {

namespace {

constexpr char kServeUsage[] = R"(usage: rcbench serve [options]
  --listen ADDR          gRPC address (default 127.0.0.1:0)
  --metrics-listen ADDR  Prometheus /metrics
  --ready-file FILE      write grpc=ADDR (and metrics=ADDR) once listening
  --die-with-parent      exit when the parent process dies
  --db PATH, --bin-dir DIR, --agent-config FILE, --log-level LEVEL
  --config FILE          the controller's config file: tls, token_file, read_token_file,
                         insecure_plaintext, and programs (what submitted specs may run)
  --tls-cert FILE --tls-key FILE --tls-ca FILE
                         mutual TLS for this listener and for the links to the hosts
  --token-file FILE      the deployment token: required from callers (control role) and
                         presented to the hosts
  --read-token-file FILE a token with the read role (ListRuns, WatchRuns, GetResults)
  --max-planned-runs N   refuse submitted specs planning more runs than N (default 100000)
  --insecure-plaintext   allow a plaintext listener on a non-loopback address (not advised)
)";

}  // namespace

int CmdServe(const std::vector<std::string>& argv) {
  auto args = ParseArgs(
      argv,
      {"--db", "--listen", "--metrics-listen", "--ready-file", "--bin-dir", "--agent-config",
       "--log-level", "--work-dir", "--config", "--tls-cert", "--tls-key", "--tls-ca",
       "--token-file", "--read-token-file", "--max-planned-runs"},
      {"--die-with-parent", "--help", "--insecure-plaintext"});
  if (!args.ok()) return UsageFailure(args.status().message(), kServeUsage);
  if (args->Has("--help")) {
    std::cout << kServeUsage;
    return 0;
  }
  if (auto s = ApplyLogLevel(*args); !s.ok()) return UsageFailure(s.message(), kServeUsage);
  if (args->Has("--die-with-parent")) DieWithParent();
  auto limits = ParseSpecLimits(*args);
  if (!limits.ok()) return UsageFailure(limits.status().message(), kServeUsage);
  auto store = SqliteResultStore::Open(args->Get("--db", kDefaultDb));
  if (!store.ok()) return Fail(store.status());
  auto config = ResolveControllerConfig(*args);
  if (!config.ok()) return Fail(config.status());
  std::string listen = args->Get("--listen", "127.0.0.1:0");
  auto listen_hp = ParseHostPort(listen);
  if (!listen_hp.ok())
    return UsageFailure(absl::StrCat("--listen: ", listen_hp.status().message()), kServeUsage);
  if (auto s = CheckListenSecurity("rcbench serve", *listen_hp, config->security); !s.ok()) {
    return Fail(s);
  }
  auto auth = Authorizer::Load("rcbench serve", config->security);
  if (!auth.ok()) return Fail(auth.status());
  ControllerMetrics metrics;
  ParsedArgs exec_args = *args;
  ExecutionPolicy policy;
  policy.hosts = {config->security.tls, config->security.token_file};
  policy.programs = &config->programs;
  ControllerService service(
      **store,
      [&](const ExperimentSpec& spec, const std::map<std::string, std::string>& tags) {
        RunnerOptions o;
        o.tags = tags;
        o.stop_requested = &g_stop;
        return ExecuteExperiment(spec, **store, exec_args, &metrics, o, policy).status();
      },
      *auth, [&](const ExperimentSpec& spec) { return AdmitSubmittedSpec(spec, config->programs); },
      *limits);
  RpcServerOptions rpc;
  rpc.component = "rcbench serve";
  rpc.listen = listen;
  rpc.security = config->security;
  rpc.audited_methods = ControllerService::MutatingMethods();
  auto built = BuildRpcServer(rpc, {&service});
  if (!built.ok()) return Fail(built.status());
  std::unique_ptr<grpc::Server> server = std::move(built->server);
  const int port = built->port;
  const std::string grpc_address = JoinHostPort(listen_hp->host, port);
  std::vector<ReadyEntry> ready = {{"grpc", grpc_address}};
  std::unique_ptr<MetricsEndpoint> endpoint;
  if (args->Has("--metrics-listen")) {
    auto e = MetricsEndpoint::Start(args->Get("--metrics-listen"), metrics.registry());
    if (!e.ok()) return Fail(e.status());
    endpoint = *std::move(e);
    ready.push_back({"metrics", endpoint->address()});
  }
  if (args->Has("--ready-file")) {
    if (auto s = WriteReadyFile(args->Get("--ready-file"), ready); !s.ok()) return Fail(s);
  }
  std::cerr << "rcbench serve: listening on " << grpc_address << "\n";
  // Not common's StopSignals: the controller stops cooperatively (runs in flight finish their
  // teardown when g_stop is set), and a second signal must still end it at once.
  InstallSignalHandlers();
  while (!g_stop) usleep(100000);
  service.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace rcbench::controller::cli
