// rcbench-server: parses flags, builds the server and its kernel containers, waits for SIGTERM.

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <climits>
#include <iostream>
#include <string>
#include <thread>

#include "common/logging.h"
#include "server/config.h"
#include "server/kernel_containers.h"
#include "server/server.h"

namespace {

std::string BinaryDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
  using rcbench::server::Server;
  auto config = rcbench::server::ParseServerFlags(argc, argv, BinaryDir());
  if (!config.ok()) {
    std::cerr << "rcbench-server: " << config.status().message() << "\n";
    return 2;
  }
  if (config->help) {
    std::cout << rcbench::server::ServerUsage();
    return 0;
  }
  rcbench::SetLogLevel(config->log_level);
  if (config->die_with_parent) prctl(PR_SET_PDEATHSIG, SIGTERM);

  // SIGTERM/SIGINT are taken synchronously by a watcher thread; block them everywhere else.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The whole process runs in a container of its own in both modes, so its CPU is measured
  // the same way with containers off (the process is the resource principal) and on. With
  // containers off it is a measurement only: the server works without it.
  std::unique_ptr<rcbench::server::RcKernelContainers> process_container;
  {
    rcbench::rc::ContainerSystem::Options rc_options;
    rc_options.probe.root_name = config->container_root;
    auto kc = rcbench::server::RcKernelContainers::Open(std::move(rc_options));
    if (kc.ok()) {
      process_container = *std::move(kc);
    } else if (config->containers) {
      std::cerr << "rcbench-server: --containers on: " << kc.status().message() << "\n";
      return 1;
    } else {
      RCBENCH_LOG(WARNING) << "no process container, the server's CPU is not measured there: "
                           << kc.status();
    }
  }
  Server::Options options;
  if (config->containers) options.kernel_containers = std::move(process_container);
  const std::string ready_file = config->ready_file;
  auto server = Server::Create(*std::move(config), std::move(options));
  if (!server.ok()) {
    std::cerr << "rcbench-server: " << server.status().message() << "\n";
    return 1;
  }
  if (!ready_file.empty()) {
    if (auto s = (*server)->WriteReadyFile(ready_file); !s.ok()) {
      std::cerr << "rcbench-server: " << s.message() << "\n";
      return 1;
    }
  }
  RCBENCH_LOG(INFO) << "serving HTTP on " << (*server)->http_address();
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    RCBENCH_LOG(INFO) << "signal " << sig << ": stopping";
    (*server)->Stop();
  });
  (*server)->Run();
  // Run() also returns if the loop fails; make the watcher return in every case.
  kill(getpid(), SIGTERM);
  watcher.join();
  server->reset();
  return 0;
}
