#pragma once

// The sampling core: every interval it refreshes discovery, reads the host counters, takes
// one sock_diag dump, samples every container and appends the UsageReport (with the next
// sequence number) to the ring. SampleOnce is the unit tests' entry; Run is the loop the
// binary and the benchmark use. Run on one thread; the other methods are thread-safe.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "agent/cgroup_sampler.h"
#include "agent/host_counters.h"
#include "agent/report_ring.h"
#include "agent/sock_diag.h"
#include "common/clock.h"

namespace rcbench::agent {

struct AgentOptions {
  std::string host;  // ContainerId.host
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::chrono::nanoseconds retention = std::chrono::minutes(10);
  uint64_t max_retained_bytes = 256ull << 20;
  // How often to take the sock_diag dumps (their cost grows with every TCP socket of the
  // host, TIME_WAIT included); samples in between reuse the last counts. 0: every sample.
  std::chrono::nanoseconds sockets_interval = std::chrono::seconds(1);
};

// Upper bounds of the sample-duration histogram, in seconds.
inline constexpr std::array<double, 14> kSampleDurationBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

class Agent {
 public:
  // `host_counters` and `sockets` may be null (not collected). `clock` must outlive this.
  Agent(AgentOptions options, std::unique_ptr<CgroupSampler> sampler,
        std::unique_ptr<HostCounterReader> host_counters, std::unique_ptr<SocketDumper> sockets,
        Clock* clock);

  // Takes one sample now and appends it to the ring; returns it.
  ReportPtr SampleOnce();
  // Samples at every interval boundary until Stop(). A sample that overruns its interval
  // skips the missed boundaries (counted in overruns) instead of queueing them.
  void Run();
  void Stop();

  ReportRing& ring() { return ring_; }
  const std::string& instance() const { return instance_; }
  const AgentOptions& options() const { return options_; }
  CgroupSampler& sampler() { return *sampler_; }

  // Cumulative statistics about the agent's own work (for /metrics).
  struct Stats {
    uint64_t samples = 0;
    uint64_t overruns = 0;
    uint64_t host_errors = 0;
    uint64_t socket_errors = 0;
    double sample_seconds_sum = 0;
    std::array<uint64_t, kSampleDurationBuckets.size()> bucket_counts{};  // non-cumulative
    double sampler_cpu_seconds = 0;    // CPU time of the sampling thread
    double sock_diag_cpu_seconds = 0;  // the part of it spent in sock_diag dumps
    SamplerStats sampler;
    size_t containers = 0;
    size_t open_files = 0;  // cgroup files kept open, and their budget
    uint64_t open_file_budget = 0;
  };
  Stats stats() const;

 private:
  AgentOptions options_;
  std::unique_ptr<CgroupSampler> sampler_;
  std::unique_ptr<HostCounterReader> host_counters_;
  std::unique_ptr<SocketDumper> sockets_;
  Clock* clock_;
  ReportRing ring_;
  std::string instance_;
  uint64_t next_sequence_ = 1;
  SocketTable socket_table_;
  bool socket_table_ok_ = false;
  int64_t last_dump_ns_ = 0;

  mutable std::mutex stats_mu_;
  Stats stats_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace rcbench::agent
