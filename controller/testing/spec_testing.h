#pragma once

// What the spec parser's tests (spec*_test.cc) share: two complete specs and helpers that
// parse a document and return its errors.

#include <gtest/gtest.h>

#include <string>

#include "controller/spec.h"

namespace rcbench::controller::testing {

// A local-mode spec using every section except hosts and benchmark.
inline constexpr char kValid[] = R"(name: demo
description: a demo
server:
  args: ["--containers", "{{containers}}"]
  classes: [high]
factors:
  containers: ["off", "on"]
  clients: [1, 2, 4]
  weight: [100, 200, 400]
zip: [[clients, weight]]
exclude:
  - {containers: "off", clients: 4}
repetitions: 3
order: sequential
seed: 11
phases: {setup: 1s, warmup: 2s, measure: 5s, cooldown: 500ms}
containers:
  - path: "demo/low"
    cpu_weight: "{{weight}}"
    cpu_limit: 30%
    memory_limit: 64MiB
sysctls:
  net.ipv4.tcp_syncookies: "1"
load:
  threads: 2
  stats_interval: 250ms
  classes:
    - name: high
      mode: closed_loop
      connections: 1
    - name: low
      mode: sclient
      clients: "{{clients}}"
      sockets_per_client: 4
      connect_timeout: 500ms
      paths: ["/a 3", "/b"]
plots:
  - {name: lat, x: clients, y: latency_p50_us, series: containers, class: high}
compare:
  throughput_rps: {direction: higher, min_effect: 2%}
)";

// A micro-benchmark spec whose program arguments are templated by two factors.
inline constexpr char kBenchmark[] = R"(name: prim
benchmark:
  binary: rc_primitives
  args: ["--benchmark_min_time={{min_time}}", "{{filter}}"]
  timeout: 90s
factors:
  min_time: ["0.01", "0.1"]
  filter: ["", "--benchmark_filter=BM_Create"]
repetitions: 3
phases: {setup: 1s}
compare:
  time_per_op_ns: {direction: lower, min_effect: 20%}
)";

// The errors of parsing `yaml` as "t.yaml", or "" if it parses; a failure must be
// INVALID_ARGUMENT.
inline std::string ErrorsOf(const std::string& yaml) {
  auto spec = ParseSpec(yaml, "t.yaml");
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

// A valid spec (one factor f with levels a and b) followed by `extra`, from line 4 on.
inline std::string Minimal(const std::string& extra) {
  return "name: t\nfactors:\n  f: [a, b]\n" + extra;
}

}  // namespace rcbench::controller::testing
