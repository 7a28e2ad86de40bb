#pragma once

// Renders one run's templated spec parts into what the agents and load generators are sent:
// server arguments, container attributes, sysctls and per-load-generator workloads. Errors are
// INVALID_ARGUMENT with "LINE:COLUMN: " of the spec field at fault. Pure functions.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/spec.h"
#include "controller/template.h"
#include "rcbench/v1/agent.pb.h"
#include "rcbench/v1/loadgen.pb.h"

namespace rcbench::controller {

// Name used for the single agent / load generator of local mode.
inline constexpr char kLocalHost[] = "local";

struct RenderedContainer {
  std::string agent;
  std::string path;
  rcbench::v1::ContainerAttributes attributes;
};

// The run's per-class listeners: server.classes rendered, empty entries left out.
absl::StatusOr<std::vector<std::string>> RenderServerClasses(const ExperimentSpec& spec,
                                                             const TemplateVars& vars);
absl::StatusOr<std::vector<std::string>> RenderServerArgs(const ExperimentSpec& spec,
                                                          const TemplateVars& vars);
// The benchmark program's arguments (empty ones left out, as for the server).
absl::StatusOr<std::vector<std::string>> RenderBenchmarkArgs(const ExperimentSpec& spec,
                                                             const TemplateVars& vars);
absl::StatusOr<std::vector<RenderedContainer>> RenderContainers(const ExperimentSpec& spec,
                                                                const TemplateVars& vars);
absl::StatusOr<std::map<std::string, std::string>> RenderSysctls(const ExperimentSpec& spec,
                                                                 const TemplateVars& vars);
// Load generator name -> its workload, bounded by `duration`.
absl::StatusOr<std::map<std::string, rcbench::v1::Workload>> RenderWorkloads(
    const ExperimentSpec& spec, const TemplateVars& vars, std::chrono::nanoseconds duration);

// The spoofed-source prefix of the run's SYN flood ("" without a flood). With `network: namespaces`
// it must be an IPv4 prefix outside loopback and the topology's subnets (the controller routes it
// to a blackhole).
absl::StatusOr<std::string> RenderSpoofPrefix(const ExperimentSpec& spec, const TemplateVars& vars);

// Every distinct spoofed-source prefix over the experiment's factor combinations.
std::vector<std::string> AllSpoofPrefixes(const ExperimentSpec& spec);

// Variables standing in for run-time facts during validation ("server.http" -> an address).
TemplateVars PlaceholderRuntimeVars(const ExperimentSpec& spec);

// The agent name the server (and by default the containers) belong to.
std::string ServerAgentName(const ExperimentSpec& spec);
std::string DefaultLoadGenName(const ExperimentSpec& spec);

void SetDuration(std::chrono::nanoseconds d, google::protobuf::Duration* out);

}  // namespace rcbench::controller
