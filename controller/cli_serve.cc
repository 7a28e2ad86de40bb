#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/daemon.h"
#include "common/logging.h"
#include "common/rpc_security.h"
#include "controller/cli_commands.h"
#include "controller/controller_config.h"
#include "controller/controller_metrics.h"
#include "controller/controller_service.h"
#include "controller/netns_topology.h"
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

// After the first stop signal the runs in flight finish their teardown, which can take long;
// a second signal must not wait for that. Once armed, this ends the process at once on the
// next SIGTERM or SIGINT, as `rcbench run`'s handler does (local mode's namespaces removed,
// exit 130). Declared before the service, so it is still armed while the service's worker,
// which runs the experiments, is joined.
class SecondSignalExits {
 public:
  explicit SecondSignalExits(const StopSignals& stop) : stop_(stop) {}
  ~SecondSignalExits() {
    done_ = true;
    if (watcher_.joinable()) watcher_.join();
  }
  SecondSignalExits(const SecondSignalExits&) = delete;
  SecondSignalExits& operator=(const SecondSignalExits&) = delete;

  // Call once, after the first signal was taken (StopSignals has one waiter at a time).
  void Arm() {
    watcher_ = std::thread([this] {
      while (!done_) {
        if (stop_.WaitFor(std::chrono::milliseconds(100)) != 0) {
          RemoveTopologiesFromSignalHandler();
          _exit(130);
        }
      }
    });
  }

 private:
  const StopSignals& stop_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

}  // namespace

int CmdServe(const std::vector<std::string>& argv) {
  int exit_code;
  auto args = ParseCommandArgs(
      argv,
      {"--db", "--listen", "--metrics-listen", "--ready-file", "--bin-dir", "--agent-config",
       "--log-level", "--work-dir", "--config", "--tls-cert", "--tls-key", "--tls-ca",
       "--token-file", "--read-token-file", "--max-planned-runs"},
      {"--die-with-parent", "--help", "--insecure-plaintext"}, kServeUsage, &exit_code);
  if (!args) return exit_code;
  if (auto s = ApplyLogLevel(*args); !s.ok()) return UsageFailure(s.message(), kServeUsage);
  if (args->Has("--die-with-parent")) DieWithParent();
  StopSignals stop;  // before any thread starts (the service's worker, gRPC's, /metrics')
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
  SecondSignalExits second_signal(stop);
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
  const int sig = stop.Wait();  // not in the log line: skipped below INFO
  RCBENCH_LOG(INFO) << "signal " << sig << ": shutting down";
  second_signal.Arm();
  // The runs in flight stop cooperatively (RunnerOptions::stop_requested) and tear down.
  g_stop = true;
  service.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace rcbench::controller::cli
