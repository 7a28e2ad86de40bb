#pragma once

// The experiment spec (experiments/*.yaml): what to run, on which hosts, with which factors,
// and what to record and plot. ParseSpec validates the whole document and reports every
// problem at once, each as "FILE:LINE:COLUMN: what was wrong; expected what".
// The format is documented in controller/README.md. Value types; thread-compatible.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/rpc_security.h"

namespace rcbench::controller {

// A 1-based position in the spec file.
// [A-Za-z_][A-Za-z0-9_-]{0,max_len-1}: experiment, factor, class and host names.
bool IsIdentifier(absl::string_view s, size_t max_len = 64);

struct SourcePos {
  int line = 0;
  int column = 0;
};

// A string that may contain {{factor}} or {{server.http}} placeholders, rendered per run.
struct Templated {
  std::string text;
  SourcePos pos;
};

struct Factor {
  std::string name;
  std::vector<std::string> levels;
  SourcePos pos;
};

// One condition of an `exclude` entry: factor == level (all of an entry's conditions must hold).
struct ExcludeRule {
  std::map<std::string, std::string> when;
  SourcePos pos;
};

struct HostEndpoint {
  std::string name;
  std::string address;  // host:port of its gRPC service
  // Optional per-host control-plane settings (docs/SECURITY.md): the name its certificate
  // must carry (default: the address's host), the controller's certificate, key and CA for
  // this host, and the token file to present. Refused in specs submitted to `rcbench serve`.
  std::string server_name;
  TlsFiles tls;
  std::string token_file;
  SourcePos pos;
};

struct ServerSpec {
  // Local mode: the binary, looked up beside the rcbench binary unless it contains a '/'.
  std::string binary = "rcbench-server";
  // Multi-host mode: the agent service name and the agent (by name) that runs it.
  std::string service = "rcbench-server";
  std::string agent;
  // Multi-host mode: the address the server listens on (and load generators target).
  std::string listen_address = "127.0.0.1";
  std::vector<Templated> args;
  // Per-class listeners (`--listen-class NAME=ADDR:0`). Entries may be templated; one that
  // renders to "" is left out, so a factor can switch per-class listeners on and off.
  std::vector<Templated> classes;
  // True when some entry of `classes` has a placeholder (the listener set varies by run).
  bool templated_classes = false;
  // Container the agent starts it in (multi-host), relative to the agent's root.
  std::string container;
  std::chrono::nanoseconds ready_timeout = std::chrono::seconds(15);
};

struct ContainerSpec {
  Templated path;
  // cpu_weight, cpu_limit, cpu_period, memory_limit, pids_limit -> templated value.
  std::map<std::string, Templated> attributes;
  std::string agent;  // empty: the server's agent
  SourcePos pos;
};

struct LoadClassSpec {
  std::string name;
  std::string loadgen;  // empty: the first load generator
  std::string mode;     // "sclient", "open_loop", "closed_loop"
  Templated target;     // default "{{server.http}}" or "{{server.http.<name>}}"
  // No target given and the server's listeners vary by run: the run's server.http.<name> if
  // the server has that listener, else server.http.
  bool auto_target = false;
  // Mode parameters (clients, sockets_per_client, connect_timeout, rate, arrival,
  // max_connections, connections) and the others (keep_alive, response_timeout, linger_zero).
  std::map<std::string, Templated> params;
  std::vector<Templated> paths;  // "PATH" or "PATH weight"
  std::vector<Templated> source_addresses;
  std::vector<Templated> headers;
  SourcePos pos;
};

struct SynFloodSpec {
  std::string loadgen;
  Templated target;
  Templated spoof_cidr;
  Templated rate_pps;
  Templated senders;
  Templated interface;
  SourcePos pos;
};

// A micro-benchmark run type, used instead of `server` and `load`: each run executes the
// program locally (beside the rcbench binary unless the name has a '/') and stores every entry
// of its Google Benchmark JSON output.
struct BenchmarkSpec {
  std::string binary = "rc_primitives";
  std::vector<Templated> args;
  std::chrono::nanoseconds timeout = std::chrono::minutes(10);
  SourcePos pos;
};

struct PlotSpec {
  std::string name;
  std::string title;
  std::string x;       // a factor
  std::string y;       // a metric, e.g. "latency_p50_us"
  std::string series;  // a factor (optional)
  std::string class_name;
  std::string container;
  bool logscale_y = false;
  SourcePos pos;
};

enum class Direction { kHigherIsBetter, kLowerIsBetter };

// Local mode's network: the children on the root namespace's 127.0.0.1, or in two network
// namespaces the controller makes per experiment (controller/netns_topology.h).
enum class LocalNetwork { kLoopback, kNamespaces };

struct MetricRule {
  Direction direction = Direction::kHigherIsBetter;
  double min_effect = 0.05;  // a fraction of the baseline median
};

struct Phases {
  std::chrono::nanoseconds setup{0};
  std::chrono::nanoseconds warmup{0};
  std::chrono::nanoseconds measure{std::chrono::seconds(10)};
  std::chrono::nanoseconds cooldown{0};
};

// `lease:`: how long a load generator keeps sending without hearing from the controller, and
// how often the controller renews it. Unset fields take the controller's defaults (2 s, 500 ms)
// or its --lease/--lease-renew flags, which win over the spec.
struct LeaseSpec {
  std::optional<std::chrono::nanoseconds> length;
  std::optional<std::chrono::nanoseconds> renew_every;
};

struct ExperimentSpec {
  std::string source_name;  // file name, for messages
  std::string yaml;         // the text as read
  std::string name;
  std::string description;
  std::vector<HostEndpoint> agents;    // empty: local mode
  std::vector<HostEndpoint> loadgens;  // empty: local mode
  LocalNetwork network = LocalNetwork::kLoopback;
  std::optional<ServerSpec> server;
  std::optional<BenchmarkSpec> benchmark;
  std::vector<Factor> factors;
  std::vector<std::vector<std::string>> zip_groups;
  std::vector<ExcludeRule> excludes;
  int repetitions = 1;
  bool randomize = true;
  uint64_t seed = 0;
  bool seed_given = false;
  Phases phases;
  LeaseSpec lease;
  std::vector<ContainerSpec> containers;
  std::map<std::string, Templated> sysctls;
  std::vector<LoadClassSpec> load_classes;
  std::optional<SynFloodSpec> syn_flood;
  std::optional<Templated> load_threads;
  // The load generators' HTTP socket engine ("epoll" | "io_uring") and io_uring completion
  // batching (see rcbench.v1.Workload); templates, so they can be factors.
  std::optional<Templated> load_io;
  std::optional<Templated> load_io_batch;
  std::optional<Templated> load_io_batch_wait;
  std::chrono::nanoseconds stats_interval = std::chrono::seconds(1);
  std::vector<std::string> record;  // "classes", "containers", "samples", "host_facts"
  std::vector<PlotSpec> plots;
  std::map<std::string, MetricRule> compare_rules;
  // Sysctls read into each run's host facts besides the agent's defaults.
  std::vector<std::string> facts_sysctls;

  bool local_mode() const { return agents.empty() && loadgens.empty(); }
  bool Records(absl::string_view what) const;
  const Factor* FindFactor(absl::string_view name) const;
};

// Bounds on what a spec may ask for, so that a hostile spec is refused before it costs memory
// or time (documented in controller/README.md, "Limits").
struct SpecLimits {
  // The planned runs (factor levels multiplied, times repetitions; before excludes).
  // `--max-planned-runs`.
  uint64_t max_planned_runs = 100'000;
  // The spec's size in bytes, checked before the YAML is parsed.
  size_t max_spec_bytes = 1 << 20;
  // Entries of `exclude` (each is checked against every combination).
  size_t max_exclude_rules = 1'000;
};

// Parses and validates `yaml`. On failure the status is INVALID_ARGUMENT and its message lists
// every problem, one per line, as "NAME:LINE:COLUMN: problem; expected ...". A spec over
// `limits` is refused before its matrix is expanded.
absl::StatusOr<ExperimentSpec> ParseSpec(absl::string_view yaml, absl::string_view source_name,
                                         const SpecLimits& limits = {});

// Reads and parses a file. NOT_FOUND if it cannot be read; INVALID_ARGUMENT (as ParseSpec) if
// it is larger than limits.max_spec_bytes (it is not read in full).
absl::StatusOr<ExperimentSpec> LoadSpecFile(const std::string& path, const SpecLimits& limits = {});

// The sysctls a `network: namespaces` spec may set: per-network-namespace ones only.
const std::vector<std::string>& NamespacedSysctls();

inline constexpr std::chrono::nanoseconds kDefaultLeaseLength = std::chrono::seconds(2);
inline constexpr std::chrono::nanoseconds kDefaultLeaseRenewEvery = std::chrono::milliseconds(500);
// A lease of 500ms..1h renewed at least twice per length (INVALID_ARGUMENT saying which).
absl::Status CheckLease(std::chrono::nanoseconds length, std::chrono::nanoseconds renew_every);

// The built-in compare rule for a metric name ("throughput_rps" -> higher is better, 5%).
MetricRule DefaultRuleFor(absl::string_view metric);

}  // namespace rcbench::controller
