// rcbench-server: parses flags, builds the server and its kernel containers, waits for SIGTERM.

#include <unistd.h>

#include <climits>
#include <iostream>
#include <string>
#include <thread>

#include "common/daemon.h"
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
  if (config->die_with_parent) rcbench::DieWithParent();
  rcbench::StopSignals stop;  // before any thread starts; a watcher thread takes them

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
    if (auto s = rcbench::WriteReadyFile(ready_file, (*server)->listener_addresses()); !s.ok()) {
      std::cerr << "rcbench-server: --ready-file: " << s.message() << "\n";
      return 1;
    }
  }
  RCBENCH_LOG(INFO) << "serving HTTP on " << (*server)->http_address();
  std::thread watcher([&] {
    const int sig = stop.Wait();  // not in the log line: skipped below INFO
    RCBENCH_LOG(INFO) << "signal " << sig << ": stopping";
    (*server)->Stop();
  });
  (*server)->Run();
  // Run() also returns if the loop fails; make the watcher return in every case.
  rcbench::StopSignals::Raise();
  watcher.join();
  server->reset();
  return 0;
}
