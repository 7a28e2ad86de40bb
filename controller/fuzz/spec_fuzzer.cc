// libFuzzer target for experiment specs: arbitrary bytes go through ParseSpec (YAML, duplicate
// keys, limits, every field's rules and every factor combination's rendering). A spec that
// parses must keep ParseSpec's promises: a matrix within the run limit, and every planned run
// renders its containers and sysctls to values the agent accepts.
// Build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
//        -DRCBENCH_FUZZ=ON && cmake --build build-fuzz --target controller_spec_fuzzer
// Run:   build-fuzz/bin/controller_spec_fuzzer -max_total_time=60 controller/fuzz/corpus

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/container_path.h"
#include "agent/sysctl_store.h"
#include "controller/matrix.h"
#include "controller/spec.h"
#include "controller/spec_render.h"

namespace {

using rcbench::controller::ExperimentSpec;

// Small enough that one input stays fast, large enough for real specs' matrices.
constexpr uint64_t kMaxPlannedRuns = 2000;

void CheckPromises(const ExperimentSpec& spec) {
  const uint64_t planned = rcbench::controller::PlannedRunUpperBound(spec);
  if (planned > kMaxPlannedRuns) abort();  // ParseSpec must have refused it
  const auto runs = rcbench::controller::ExpandMatrix(spec, spec.seed);
  if (runs.size() > planned) abort();  // excludes can only shrink the matrix
  rcbench::controller::TemplateVars runtime = rcbench::controller::PlaceholderRuntimeVars(spec);
  for (const auto& run : runs) {
    if (run.repetition != 1) continue;  // repetitions render alike
    rcbench::controller::TemplateVars vars = runtime;
    for (const auto& [k, v] : run.factors) vars[k] = v;
    auto containers = rcbench::controller::RenderContainers(spec, vars);
    if (!containers.ok()) abort();
    for (const auto& c : *containers) {
      if (!rcbench::agent::ValidateContainerPath(c.path).ok()) abort();
    }
    auto sysctls = rcbench::controller::RenderSysctls(spec, vars);
    if (!sysctls.ok()) abort();
    for (const auto& [name, value] : *sysctls) {
      if (!rcbench::agent::ValidateSysctlName(name).ok()) abort();
      if (value.size() > 4096 || value.find('\n') != std::string::npos) abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rcbench::controller::SpecLimits limits;
  limits.max_planned_runs = kMaxPlannedRuns;
  auto spec = rcbench::controller::ParseSpec(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml", limits);
  if (spec.ok()) CheckPromises(*spec);
  return 0;
}
