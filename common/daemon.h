#pragma once

// What every rcbench daemon (rcbench-agent, rcbench-loadgen serve, rcbench-server, rcbench
// serve) does around its own work: block and wait for the stop signals, serve Prometheus
// /metrics, and announce where it listens in a ready file. The gRPC listener itself is
// BuildRpcServer (common/rpc_security.h). A daemon's main.cc reads:
//
//   StopSignals stop;                        // before any thread starts
//   auto daemon = Build(...);                // binds gRPC / HTTP / MetricsEndpoint on port 0..N
//   WriteReadyFile(path, {{"grpc", ...}, {"metrics", endpoint->address()}});
//   stop.Wait();
//   daemon->Shutdown();
//
// `rcbench serve` reads the same, and after the first signal watches for a second one, which
// ends it at once while the experiment in flight still tears down (controller/cli_serve.cc).

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace rcbench {

// "HOST:PORT", with an IPv6 host in brackets ("[::1]:9090"): what ParseHostPort reads back.
std::string JoinHostPort(absl::string_view host, int port);

// One "key=value" line of a ready file: {"grpc", "127.0.0.1:40123"}.
using ReadyEntry = std::pair<std::string, std::string>;

// Writes "pid=<this process>" and then one "key=value\n" line per entry, in order, to PATH.tmp
// and renames it to PATH, so a reader polling PATH sees nothing or the whole file (the
// controller and the agent's service manager treat a file ending in '\n' as complete).
// UNAVAILABLE naming the file and the system's reason when it cannot be written.
absl::Status WriteReadyFile(const std::string& path, const std::vector<ReadyEntry>& entries);

// Exits the process with SIGTERM when its parent dies (--die-with-parent).
void DieWithParent();

// SIGTERM and SIGINT, taken synchronously. The constructor blocks both in the calling thread;
// threads started afterwards inherit the mask, so construct it in main() before any thread
// starts, and a stop signal is then only ever seen by Wait/WaitFor. The destructor leaves them
// blocked: a signal arriving during shutdown must not kill the process half way.
// Wait and WaitFor may be called from any one thread.
class StopSignals {
 public:
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Blocks until SIGTERM or SIGINT arrives; returns its number.
  int Wait() const;
  // Blocks at most `timeout`; the signal's number, or 0 if none arrived.
  int WaitFor(std::chrono::nanoseconds timeout) const;
  // Sends SIGTERM to this process, waking a thread in Wait().
  static void Raise();
};

// Serves GET /metrics for one collectable over HTTP (prometheus-cpp's civetweb Exposer).
// Serving stops when it is destroyed. Thread-safe: the collectable is scraped on the
// endpoint's own threads.
class MetricsEndpoint {
 public:
  // `listen` is HOST:PORT (port 0: ephemeral; IPv6 in brackets). INVALID_ARGUMENT for a bad
  // address, UNAVAILABLE when it cannot be bound; both name the address.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      absl::string_view listen, std::shared_ptr<prometheus::Collectable> collectable,
      int threads = 2);
  ~MetricsEndpoint();

  int port() const { return port_; }
  // HOST:PORT with the bound port (JoinHostPort).
  std::string address() const { return JoinHostPort(host_, port_); }

 private:
  MetricsEndpoint() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::string host_;
  int port_ = 0;
};

}  // namespace rcbench
