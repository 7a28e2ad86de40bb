// libFuzzer target for the agent's hostile inputs that need no live system: the first byte picks
// the target, the rest is its input.
//   0: the config parser (ParseAgentConfig), as YAML text
//   1: the cgroup file parsers the agent samples with (rc/cgroup_files.h), as file contents
//   2: a serialized rcbench.v1.StartServiceRequest through ValidateStartServiceRequest
//   3: a serialized rcbench.v1.CreateContainerRequest through ValidateCreateContainerRequest
//   4: a serialized rcbench.v1.SubscribeUsageRequest through ValidateSubscribeUsageRequest and
//      ResumeAfter
// Build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
//        -DRCBENCH_FUZZ=ON && cmake --build build-fuzz --target agent_input_fuzzer
// Run:   build-fuzz/bin/agent_input_fuzzer -max_total_time=60 agent/fuzz/corpus

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/config.h"
#include "agent/request_validation.h"
#include "google/protobuf/stubs/logging.h"
#include "rc/cgroup_files.h"
#include "rcbench/v1/agent.pb.h"

namespace {

using namespace rcbench::agent;
namespace rc = rcbench::rc;

const std::map<std::string, ServiceSpec>& Specs() {
  static const auto* specs = [] {
    auto* m = new std::map<std::string, ServiceSpec>();
    ServiceSpec s;
    s.name = "server";
    s.command = {"/bin/true"};
    s.allowed_args = {"--arch=(event|threads)", "--port=[0-9]{1,5}", "(a|b)*"};
    s.container = "server";
    (*m)[s.name] = s;
    return m;
  }();
  return *specs;
}

void ParseCgroupFiles(absl::string_view text) {
  (void)rc::ParseUint(text, "fuzz");
  (void)rc::ParseFlatKeyed(text, "fuzz");
  uint64_t sum = 0;
  (void)rc::ForEachFlatKeyed(text, "fuzz", [&](absl::string_view, uint64_t v) { sum += v; });
  (void)rc::ParseIoStat(text, "fuzz");
  (void)rc::ParseBlkio(text, "fuzz");
  (void)rc::ParsePressure(text, "fuzz");
}

}  // namespace

// Parsing random bytes logs invalid UTF-8 in string fields on every run: keep the output useful.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0:
      (void)ParseAgentConfig(input, "fuzz.yaml");
      break;
    case 1:
      ParseCgroupFiles(input);
      break;
    case 2: {
      rcbench::v1::StartServiceRequest req;
      if (req.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
        (void)ValidateStartServiceRequest(req, Specs(), ServiceLimits{});
      }
      break;
    }
    case 3: {
      rcbench::v1::CreateContainerRequest req;
      if (req.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
        (void)ValidateCreateContainerRequest(req);
      }
      break;
    }
    case 4: {
      rcbench::v1::SubscribeUsageRequest req;
      if (req.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
        (void)ValidateSubscribeUsageRequest(req);
        (void)ResumeAfter(req.resume_after_sequence(), 7);
      }
      break;
    }
  }
  return 0;
}
