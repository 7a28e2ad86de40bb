// rcbench-agent: parses flags, builds the agent, writes the ready file and waits for SIGTERM
// or SIGINT. The logic lives in the rcbench::agent library.

#include <iostream>

#include "agent/agent_server.h"
#include "agent/cli.h"
#include "agent/fd_budget.h"
#include "common/daemon.h"
#include "common/logging.h"

int main(int argc, char** argv) {
  using namespace rcbench::agent;
  auto flags = ParseAgentFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "rcbench-agent: " << flags.status().message() << "\n";
    return 2;
  }
  if (flags->help) {
    std::cout << AgentUsage();
    return 0;
  }
  rcbench::SetLogLevel(flags->log_level);
  if (flags->die_with_parent) rcbench::DieWithParent();
  auto config = ResolveConfig(*flags);
  if (!config.ok()) {
    std::cerr << "rcbench-agent: " << config.status().message() << "\n";
    return 2;
  }
  if (flags->snapshot) {
    auto report = TakeSnapshot(*config, *flags);
    if (!report.ok()) {
      std::cerr << "rcbench-agent snapshot: " << report.status().message() << "\n";
      return 1;
    }
    std::cout << (flags->json ? FormatReportJson(*report) : FormatReportTable(*report));
    return 0;
  }
  rcbench::StopSignals stop;  // before any thread starts

  // Every kept-open cgroup file is a descriptor: take all the kernel allows (agent/fd_budget.h).
  if (auto limit = RaiseOpenFileLimit(); limit.ok()) {
    RCBENCH_LOG(INFO) << "RLIMIT_NOFILE soft limit " << limit->previous_soft << " -> "
                      << limit->soft << " (hard " << limit->hard << ")";
  } else {
    RCBENCH_LOG(WARNING) << limit.status();
  }
  auto layout = ResolveLayout(*flags);
  if (!layout.ok()) {
    std::cerr << "rcbench-agent: " << layout.status().message() << "\n";
    return 1;
  }
  ServerOptions options{flags->listen,
                        flags->metrics_listen,
                        *layout,
                        flags->proc_dir,
                        flags->sysctl_dir,
                        flags->state_dir,
                        flags->cgroup_base.empty(),
                        config->security};
  auto server = AgentServer::Start(*config, options);
  if (!server.ok()) {
    RCBENCH_LOG(ERROR) << server.status();
    return 1;
  }
  if (!flags->ready_file.empty()) {
    auto s = rcbench::WriteReadyFile(
        flags->ready_file,
        {{"grpc", (*server)->grpc_address()}, {"metrics", (*server)->metrics_address()}});
    if (!s.ok()) {
      RCBENCH_LOG(ERROR) << s;
      return 1;
    }
  }
  const int sig = stop.Wait();  // not in the log line: skipped below INFO
  RCBENCH_LOG(INFO) << "signal " << sig << ": shutting down";
  (*server)->Shutdown();
  return 0;
}
