#pragma once

// Resource-container attributes and usage (PAPER_NOTES §4), the C++ mirror of
// rcbench.v1.ContainerAttributes / ContainerUsage. Value types.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rcbench::rc {

// Unset fields are left unchanged by SetAttributes; GetAttributes fills every field the host
// supports.
struct Attributes {
  // Time-share weight 1..10000 (v2 cpu.weight; v1 cpu.shares = weight * 1024 / 100).
  std::optional<uint32_t> cpu_weight;
  // CPU limit in cores (0.2 = 20% of one CPU); 0 removes the limit.
  std::optional<double> cpu_limit_cores;
  // CFS period for the limit in µs (1000..1000000; default 100000).
  std::optional<uint32_t> cpu_period_us;
  // Memory limit in bytes; 0 removes it.
  std::optional<uint64_t> memory_limit_bytes;
  // Maximum number of tasks; 0 removes the limit.
  std::optional<uint64_t> pids_limit;

  friend bool operator==(const Attributes&, const Attributes&) = default;
};

struct Pressure {
  uint64_t some_total_us = 0;
  uint64_t full_total_us = 0;
};

// Cumulative counters of a container and its descendants.
struct Usage {
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  uint64_t cpu_periods = 0;
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;
  uint64_t memory_usage_bytes = 0;
  uint64_t memory_peak_bytes = 0;
  // memory_usage_bytes minus inactive file pages (memory.stat inactive_file on v2,
  // total_inactive_file on v1), as cAdvisor's working set.
  uint64_t memory_working_set_bytes = 0;
  uint64_t pids_current = 0;
  // Block I/O summed over devices (v2 io.stat; v1 blkio.throttle.*_recursive).
  uint64_t io_read_bytes = 0;
  uint64_t io_write_bytes = 0;
  uint64_t io_read_ops = 0;
  uint64_t io_write_ops = 0;
  std::optional<Pressure> cpu_pressure;
  std::optional<Pressure> memory_pressure;
  std::optional<Pressure> io_pressure;
  // Which groups were read: "cpu", "memory", "pids", "io", "psi" (as ContainerUsage.available).
  std::vector<std::string> available;

  bool Has(const std::string& group) const;
};

}  // namespace rcbench::rc
