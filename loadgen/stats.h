#pragma once

// Per-class counters and histograms, as kept by each worker for one interval and merged by
// the run into interval deltas and run totals (rcbench.v1.ClassStats). Value type;
// thread-compatible: each worker guards its own instances with its own mutex.

#include <array>
#include <cstdint>
#include <string>

#include "common/histogram.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::loadgen {

enum ErrorKind : int {
  kConnectTimeout = 0,
  kConnectRefused,
  kReset,
  kResponseTimeout,
  kNon2xx,
  kParseError,
  kLateSend,
  kLocal,
  kNumErrorKinds,
};

// Names as in rcbench.v1.ErrorCounts (and the `kind` label of the errors metric).
const char* ErrorKindName(int kind);

struct ClassCounters {
  uint64_t requests_ok = 0;
  uint64_t requests_sent = 0;
  uint64_t connects_attempted = 0;
  uint64_t connects_established = 0;
  uint64_t bytes_received = 0;
  uint64_t syn_packets_sent = 0;
  std::array<uint64_t, kNumErrorKinds> errors{};
  LatencyHistogram latency;
  LatencyHistogram latency_uncorrected;
  LatencyHistogram connect_latency;

  void Merge(const ClassCounters& other);
  void Reset();
  uint64_t TotalErrors() const;
  // Fills everything except class_name, interval times and generator_cpu_ns.
  void ToProto(rcbench::v1::ClassStats* out) const;
  // Inverse of ToProto (histograms validated).
  static absl::StatusOr<ClassCounters> FromProto(const rcbench::v1::ClassStats& in);
};

}  // namespace rcbench::loadgen
