#pragma once

// Pure validation of the agent's RPC requests: everything that can be checked without touching
// the host (no cgroups, no processes), so the handlers and the fuzzer (agent/fuzz/) run the very
// same checks. Thread-compatible (pure functions). Every error is INVALID_ARGUMENT naming the
// field (and index) and the limit, except arguments that match no allowed pattern
// (PERMISSION_DENIED) and undeclared services (NOT_FOUND).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "agent/config.h"
#include "rcbench/v1/agent.pb.h"

namespace rcbench::agent {

// The smallest memory limit accepted (0 still removes the limit). The kernel rounds memory.max
// down to whole pages, so a tiny value would become 0 ("no limit") or an instant OOM kill.
inline constexpr uint64_t kMinMemoryLimitBytes = 1ull << 20;
// Linux's PID_MAX_LIMIT: pids.max accepts nothing larger.
inline constexpr uint64_t kMaxPidsLimit = 4ull << 20;

// ContainerAttributes ranges: cpu_weight 1..10000, cpu_limit_cores 0 or 0.001..4096 (finite),
// cpu_period_us 1000..1000000, memory_limit_bytes 0 or >= kMinMemoryLimitBytes, pids_limit
// 0..kMaxPidsLimit. `field` prefixes the message ("attributes", "container_attributes").
absl::Status ValidateContainerAttributes(const rcbench::v1::ContainerAttributes& a,
                                         absl::string_view field);

// An owner tag (CreateContainerRequest.owner, StartServiceRequest.owner, ReleaseOwnerRequest):
// empty (no owner), or 1..kMaxOwnerBytes characters of [A-Za-z0-9._:-]. `field` names it in
// the error.
inline constexpr size_t kMaxOwnerBytes = 128;
absl::Status ValidateOwner(absl::string_view owner, absl::string_view field);

// ReleaseOwner: a non-empty valid owner and a grace period that is not negative.
absl::Status ValidateReleaseOwnerRequest(const rcbench::v1::ReleaseOwnerRequest& req);
// Its grace period: 5 s when unset, at most kMaxReleaseGrace. Call after validating.
inline constexpr std::chrono::seconds kMaxReleaseGrace{30};
std::chrono::nanoseconds ReleaseGrace(const rcbench::v1::ReleaseOwnerRequest& req);

absl::Status ValidateCreateContainerRequest(const rcbench::v1::CreateContainerRequest& req);
absl::Status ValidateUpdateContainerRequest(const rcbench::v1::UpdateContainerRequest& req);

// The extra arguments of a StartService call against `spec`: first their count and lengths
// (before any regular expression runs: libstdc++'s std::regex recurses once per character),
// then each against the declaration's patterns.
absl::Status ValidateServiceArgs(const ServiceSpec& spec,
                                 const google::protobuf::RepeatedPtrField<std::string>& args,
                                 const ServiceLimits& limits);

// Everything about a StartService request that needs no live system: the name is declared,
// the container path and attributes are valid, the arguments pass ValidateServiceArgs.
absl::Status ValidateStartServiceRequest(const rcbench::v1::StartServiceRequest& req,
                                         const std::map<std::string, ServiceSpec>& specs,
                                         const ServiceLimits& limits);

// SubscribeUsage: every path prefix is a valid (possibly empty) container path.
absl::Status ValidateSubscribeUsageRequest(const rcbench::v1::SubscribeUsageRequest& req);
// The sequence a subscription starts after, given the one requested and the newest report's
// (0: none yet). 0, or a sequence beyond the newest (from an earlier agent process, or made up,
// which would otherwise wait forever), start with the newest report.
uint64_t ResumeAfter(uint64_t requested, uint64_t newest);

}  // namespace rcbench::agent
