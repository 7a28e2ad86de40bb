#include "loadgen/cli_serve.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/rpc_security.h"
#include "common/status_macros.h"
#include "loadgen/cli_flags.h"
#include "loadgen/cli_output.h"
#include "loadgen/metrics.h"
#include "loadgen/service.h"

namespace rcbench::loadgen {
namespace {

using Args = ParsedFlags;

// serve's flags, checked before anything listens.
struct ServeFlags {
  HostPort listen;
  std::optional<HostPort> metrics_listen;
  LoadGenService::Limits limits;
  ServerSecurity security;
};

absl::StatusOr<ServeFlags> ParseServeFlags(const Args& args, AllowList& allow) {
  ServeFlags f;
  if (!args.Has("listen")) {
    return absl::InvalidArgumentError("`serve` needs --listen ADDR (port 0: ephemeral)");
  }
  auto listen = ParseHostPort(args.Get("listen"));
  if (!listen.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: ", listen.status().message()));
  }
  f.listen = *listen;
  if (args.Has("metrics-listen")) {
    auto m = ParseHostPort(args.Get("metrics-listen"));
    if (!m.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--metrics-listen: ", m.status().message()));
    }
    f.metrics_listen = *m;
  }
  RCBENCH_ASSIGN_OR_RETURN(const int64_t max_duration, DurationFlag(args, "max-duration", "10m"));
  if (args.Has("config")) {
    auto w = LoadWorkloadConfig(args.Get("config"), &allow);
    if (!w.ok())
      return absl::InvalidArgumentError(absl::StrCat("--config: ", w.status().message()));
  }
  for (absl::string_view flag : kSecurityValueFlags) {
    const std::string name(absl::StripPrefix(flag, "--"));  // Args keys have no dashes
    if (args.Has(name)) ApplySecurityFlag(flag, args.Get(name), f.security);
  }
  f.security.insecure_plaintext = args.Has("insecure-plaintext");
  RCBENCH_ASSIGN_OR_RETURN(f.limits.workload, LimitsFlags(args, max_duration));
  RCBENCH_ASSIGN_OR_RETURN(
      f.limits.max_stored_workloads,
      UintFlag(args, "max-workloads", LoadGenService::kDefaultMaxStoredWorkloads));
  if (f.limits.max_stored_workloads > 1024) {
    return absl::InvalidArgumentError("--max-workloads: at most 1024");
  }
  return f;
}

}  // namespace

int Serve(const Args& args, AllowList allow, const StopSignals& stop) {
  auto flags = ParseServeFlags(args, allow);
  if (!flags.ok()) return Failure("serve", flags.status(), 2);
  const HostPort& listen = flags->listen;
  const std::optional<HostPort>& metrics_listen = flags->metrics_listen;
  const ServerSecurity& security = flags->security;
  if (absl::Status s = CheckListenSecurity("rcbench-loadgen", listen, security); !s.ok()) {
    return Failure("serve", s, 2);
  }
  auto auth = Authorizer::Load("rcbench-loadgen", security);
  if (!auth.ok()) return Failure("serve", auth.status(), 2);
  auto metrics = std::make_shared<LoadgenMetrics>();
  LoadGenService service(allow, flags->limits, RealClock::Get(), metrics.get(), *auth);
  RpcServerOptions rpc;
  rpc.component = "rcbench-loadgen";
  rpc.listen = JoinHostPort(listen.host, listen.port);
  rpc.security = security;
  rpc.audited_methods = LoadGenService::MutatingMethods();
  auto built = BuildRpcServer(rpc, {&service});
  if (!built.ok()) {
    std::fprintf(stderr, "rcbench-loadgen serve: %s\n",
                 std::string(built.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<grpc::Server> server = std::move(built->server);
  std::vector<ReadyEntry> ready = {{"grpc", JoinHostPort(listen.host, built->port)}};
  std::unique_ptr<MetricsEndpoint> endpoint;
  if (metrics_listen) {
    auto started =
        MetricsEndpoint::Start(JoinHostPort(metrics_listen->host, metrics_listen->port), metrics);
    if (!started.ok()) {
      server->Shutdown();
      return Failure("serve", started.status(), 1);
    }
    endpoint = *std::move(started);
    ready.push_back({"metrics", endpoint->address()});
  }
  for (const auto& [key, address] : ready)
    RCBENCH_LOG(INFO) << "listening: " << key << "=" << address;
  RCBENCH_LOG(INFO) << "allow-list: " << allow.ToString();
  if (args.Has("ready-file")) {
    absl::Status s = WriteReadyFile(args.Get("ready-file"), ready);
    if (!s.ok()) {
      server->Shutdown();
      return Failure("serve", absl::UnavailableError(absl::StrCat("--ready-file: ", s.message())),
                     1);
    }
  }
  const int sig = stop.Wait();  // not in the log line: skipped below INFO
  RCBENCH_LOG(INFO) << "signal " << sig << ": shutting down";
  service.Shutdown();
  // In-flight calls (a StreamStats) get 200 ms to finish, then are cancelled.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  return 0;
}

}  // namespace rcbench::loadgen
