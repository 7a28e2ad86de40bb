#pragma once

// All of rcbench-server's Prometheus metrics, built in one place (names and help strings are
// reviewed together in ServerMetrics::Collect and listed in server/README.md).
//
// The data path updates plain relaxed atomics in ContainerStats (no locks, no allocation);
// Collect() turns them into metric families on scrape. Thread-safe.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/histogram.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace rcbench::server {

// Upper bounds (seconds) of the request latency histogram buckets.
inline constexpr std::array<double, 18> kLatencyBucketsSeconds = {
    50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
    50e-3, 100e-3, 200e-3, 500e-3, 1.0,  2.0,  5.0,  10.0,  30.0};

enum class ConnError {
  kBadRequest,      // 400
  kHeaderTooLarge,  // 431
  kBodyTooLarge,    // 413
  kIdleTimeout,
  kRequestTimeout,  // 408 (slow request or stalled response)
  kReset,           // read/write error from the peer
  kCount
};

enum class CgiOutcome {
  kOk,
  kFailed,
  kTimeout,
  kAbandoned,  // the client went away; the child was stopped
  kRefused,    // 503: --max-cgi-children reached
  kCount
};

enum class AcceptError {
  kFdLimit,  // EMFILE, ENFILE (and ENOBUFS, ENOMEM): the listener backs off
  kOther,
  kCount
};

// Counters of one logical container (a class or a virtual server).
struct ContainerStats {
  std::string name;  // "class/high", "vhost/a.example"
  std::string class_name;
  std::array<std::atomic<uint64_t>, 4> requests{};  // by status 2xx..5xx
  std::array<std::atomic<uint64_t>, kLatencyBucketsSeconds.size() + 1> latency_buckets{};
  std::atomic<uint64_t> latency_sum_ns{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<int64_t> connections_open{0};

  void RecordRequest(int status, int64_t latency_ns);
};

// What Collect() reads that lives elsewhere (accounting, kernel files, listen sockets).
struct MetricsSources {
  // CPU seconds charged to each logical container by user-level accounting (same order as the
  // ContainerStats), or empty with containers off.
  std::function<std::vector<double>()> user_cpu_seconds;
  // (kernel container name, CPU seconds) for each kernel container, or empty.
  std::function<std::vector<std::pair<std::string, double>>()> kernel_cpu_seconds;
  struct ListenerInfo {
    std::string name;  // "http", "http.high"
    uint64_t queue_length = 0;
    uint64_t queue_max = 0;
    uint64_t drops = 0;  // dropped by the socket (filter or memory): SO_MEMINFO
  };
  std::function<std::vector<ListenerInfo>()> listeners;
  // Request latency per logical container (same order as the ContainerStats), merged over the
  // loops, with common/histogram.h's log-linear buckets (values within 0.8%).
  std::function<std::vector<LatencyHistogram>()> latency;
  // CGI children alive now.
  std::function<int()> cgi_children;
};

class ServerMetrics : public prometheus::Collectable {
 public:
  // `containers` are the logical container names, e.g. {"class/high", ...}, with their class.
  explicit ServerMetrics(std::vector<std::pair<std::string, std::string>> containers);

  ContainerStats& container(int id) { return *stats_[id]; }
  size_t container_count() const { return stats_.size(); }
  void CountError(ConnError e) {
    errors_[static_cast<int>(e)].fetch_add(1, std::memory_order_relaxed);
  }
  void CountCgi(CgiOutcome o) { cgi_[static_cast<int>(o)].fetch_add(1, std::memory_order_relaxed); }
  void CountAcceptError(AcceptError e) {
    accept_errors_[static_cast<int>(e)].fetch_add(1, std::memory_order_relaxed);
  }
  void set_sources(MetricsSources s) { sources_ = std::move(s); }

  std::vector<prometheus::MetricFamily> Collect() const override;
  // The text exposition format of Collect().
  std::string RenderText() const;

 private:
  std::vector<std::unique_ptr<ContainerStats>> stats_;
  std::array<std::atomic<uint64_t>, static_cast<int>(ConnError::kCount)> errors_{};
  std::array<std::atomic<uint64_t>, static_cast<int>(CgiOutcome::kCount)> cgi_{};
  std::array<std::atomic<uint64_t>, static_cast<int>(AcceptError::kCount)> accept_errors_{};
  MetricsSources sources_;
};

// Host-wide listen queue counters from /proc/net/netstat (TcpExt ListenOverflows, ListenDrops).
// Zeros if the file cannot be read.
struct HostListenCounters {
  uint64_t overflows = 0;
  uint64_t drops = 0;
};
HostListenCounters ReadHostListenCounters(absl::string_view netstat_path = "/proc/net/netstat");

}  // namespace rcbench::server
