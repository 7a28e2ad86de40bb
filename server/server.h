#pragma once

// rcbench-server: an HTTP/1.1 server on Boost.Asio/Beast whose resource management switches
// between "the process is the principal" (--containers off) and resource containers
// (--containers on). See server/README.md for the architecture.
//
// Lifetime: Create() binds every listener; Run() serves until Stop(). Stop() is thread-safe and
// may be called before or during Run(). Destroying the server closes every connection and kills
// and reaps any CGI children.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/config.h"
#include "server/kernel_containers.h"
#include "server/metrics.h"

namespace rcbench::server {

class Server {
 public:
  struct Options {
    Clock* clock = nullptr;  // default RealClock
    // With containers on: where kernel containers are made. Required then.
    std::unique_ptr<KernelContainers> kernel_containers;
  };

  // INVALID_ARGUMENT for inconsistent configuration, UNAVAILABLE if a listener cannot be bound,
  // NOT_FOUND/RESOURCE_EXHAUSTED from loading a document root.
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerConfig config, Options options);
  ~Server();

  void Run();
  void Stop();

  // "ADDR:PORT" of the main HTTP listener.
  std::string http_address() const;
  // ("http", addr), ("http.<class>", addr)..., and ("metrics", addr) if --metrics-listen: the
  // ready file's lines after pid= (common/daemon.h's WriteReadyFile).
  std::vector<std::pair<std::string, std::string>> listener_addresses() const;
  ServerMetrics& metrics();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rcbench::server
