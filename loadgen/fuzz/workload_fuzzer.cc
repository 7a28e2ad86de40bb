// libFuzzer target for the load generator's input path: arbitrary bytes are parsed as the text
// of a `classes --config` / `serve --config` YAML file and, separately, as a serialized
// rcbench.v1.Workload (what Configure receives); whatever parses goes through ValidateWorkload,
// and every workload it accepts must respect the documented limits (checked here, so a hole in
// a limit is a crash, not just a slow input). Seeds in corpus/ include each hostile input of
// issue #14 (32-bit socket overflow, a million connections, spoofed loopback/target prefixes,
// YAML aliases, summed counts; hostile_*, all refused) and valid configs (valid_*, accepted;
// valid_large_workload.pb is the ~50 KB workload whose repeated Configure grew memory, which
// the service's bounded store handles). loadgen_test checks both prefixes.
// Build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
//        -DRCBENCH_FUZZ=ON && cmake --build build-fuzz --target loadgen_workload_fuzzer
// Run:   build-fuzz/bin/loadgen_workload_fuzzer -max_total_time=60 -rss_limit_mb=1024
//        loadgen/fuzz/corpus

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "common/cidr.h"
#include "loadgen/allow_list.h"
#include "loadgen/http_worker.h"
#include "loadgen/workload.h"
#include "rcbench/v1/loadgen.pb.h"

namespace {

using rcbench::Cidr;
using rcbench::loadgen::AllowList;
using rcbench::loadgen::RunSpec;
using rcbench::loadgen::WorkloadLimits;

void Require(bool condition) {
  if (!condition) std::abort();
}

bool Overlaps(const Cidr& a, const Cidr& b) {
  return a.Contains(b.network()) || b.Contains(a.network());
}

void CheckAccepted(const RunSpec& spec, const WorkloadLimits& limits, const AllowList& allow) {
  uint64_t sockets = 0;
  for (const auto& c : spec.classes) sockets += c.TotalSockets();
  Require(sockets <= limits.max_sockets);
  Require(spec.classes.size() <= static_cast<size_t>(rcbench::loadgen::kMaxHttpClasses));
  Require(spec.threads <= rcbench::loadgen::kMaxWorkerThreads);
  if (spec.flood) {
    Require(!spec.flood->spoof.Contains(spec.flood->target_ip));
    for (const char* lo : {"127.0.0.0/8", "::1/128"}) {
      Require(!Overlaps(spec.flood->spoof, *Cidr::Parse(lo)));
    }
    for (const Cidr& p : allow.prefixes()) Require(!Overlaps(spec.flood->spoof, p));
  }
  // Planning allocates per worker and class: bounded once validation has passed.
  (void)rcbench::loadgen::PlanWorkers(spec, spec.threads);
}

void Validate(const rcbench::v1::Workload& workload, const AllowList& allow) {
  WorkloadLimits limits;
  limits.max_duration_ns = int64_t{600} * 1'000'000'000;
  limits.open_files_limit = uint64_t{1} << 20;  // independent of the fuzzing machine
  auto spec = rcbench::loadgen::ValidateWorkload(workload, allow, limits);
  if (spec.ok()) CheckAccepted(*spec, limits, allow);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (size <= rcbench::loadgen::kMaxConfigBytes) {
    AllowList allow;
    auto workload = rcbench::loadgen::ParseWorkloadConfig(text, "fuzz.yaml", &allow);
    if (workload.ok()) Validate(*workload, allow);
  }
  rcbench::v1::Workload workload;
  if (workload.ParseFromArray(data, static_cast<int>(size))) Validate(workload, AllowList());
  return 0;
}
