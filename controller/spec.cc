#include "controller/spec.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/sysctl_store.h"
#include "common/cidr.h"
#include "common/flags.h"
#include "common/load_vocabulary.h"
#include "common/status_macros.h"
#include "common/yaml_fields.h"
#include "controller/matrix.h"
#include "controller/metrics_catalog.h"
#include "controller/spec_parser.h"
#include "controller/spec_render.h"
#include "controller/template.h"

namespace rcbench::controller {

bool IsIdentifier(absl::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  if (!(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '-')) return false;
  }
  return true;
}

absl::Status CheckLease(std::chrono::nanoseconds length, std::chrono::nanoseconds renew_every) {
  if (length < std::chrono::milliseconds(500) || length > std::chrono::hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("length ", FormatDuration(length), " is out of range; expected 500ms to 1h"));
  }
  if (renew_every < std::chrono::milliseconds(50) || renew_every * 2 > length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "renewal every ", FormatDuration(renew_every), " for a lease of ", FormatDuration(length),
        "; expected at least 50ms and at most half the lease, so that one lost "
        "renewal does not end the load"));
  }
  return absl::OkStatus();
}

namespace spec_internal {

void SpecParser::Parse(const YAML::Node& root, ExperimentSpec& spec) {
  if (!root.IsDefined() || root.IsNull()) {
    Error(SourcePos{1, 1}, "the document is empty; expected a mapping with at least \"name\"");
    return;
  }
  CheckDuplicateKeys(root);
  if (!ExpectMap(root, "the experiment",
                 {"name",  "description", "hosts",       "network", "server", "factors",
                  "zip",   "exclude",     "repetitions", "order",   "seed",   "phases",
                  "lease", "containers",  "sysctls",     "load",    "record", "host_facts_sysctls",
                  "plots", "compare",     "benchmark"})) {
    return;
  }
  if (!root["name"]) {
    Error(root, "missing key \"name\"; expected the experiment's name");
  } else if (auto name = Scalar(root["name"], "name")) {
    if (!IsIdentifier(*name)) {
      Error(root["name"], absl::StrCat("name \"", *name,
                                       "\" is invalid; expected 1-64 characters of "
                                       "[A-Za-z0-9_-] starting with a letter"));
    }
    spec.name = *name;
  }
  if (root["description"]) {
    if (auto d = Scalar(root["description"], "description")) spec.description = *d;
  }
  if (root["hosts"]) ParseHosts(root["hosts"], spec);
  if (root["network"]) ParseNetwork(root["network"], spec);
  if (root["server"]) ParseServer(root["server"], spec);
  if (root["benchmark"]) ParseBenchmark(root, spec);
  if (root["factors"]) ParseFactors(root["factors"], spec);
  if (root["zip"]) ParseZip(root["zip"], spec);
  CheckRepeatedLevels(spec);
  if (root["exclude"]) ParseExclude(root["exclude"], spec);
  if (root["repetitions"]) {
    if (auto s = Scalar(root["repetitions"], "repetitions")) {
      int reps;
      if (!absl::SimpleAtoi(*s, &reps) || reps < 1 || reps > 1000) {
        Error(root["repetitions"],
              absl::StrCat("repetitions is \"", *s, "\"; expected an integer in [1, 1000]"));
      } else {
        spec.repetitions = reps;
      }
    }
  }
  if (root["order"]) {
    if (auto s = Scalar(root["order"], "order")) {
      if (*s == "random") {
        spec.randomize = true;
      } else if (*s == "sequential") {
        spec.randomize = false;
      } else {
        Error(root["order"], absl::StrCat("order is \"", *s, "\"; expected random or sequential"));
      }
    }
  }
  if (root["seed"]) {
    if (auto s = Scalar(root["seed"], "seed")) {
      if (!absl::SimpleAtoi(*s, &spec.seed)) {
        Error(root["seed"], absl::StrCat("seed is \"", *s, "\"; expected an unsigned integer"));
      } else {
        spec.seed_given = true;
      }
    }
  }
  CheckMatrixSize(spec);
  if (root["phases"]) ParsePhases(root["phases"], spec);
  if (root["lease"]) ParseLease(root["lease"], spec);
  if (root["containers"]) ParseContainers(root["containers"], spec);
  if (root["sysctls"]) ParseSysctls(root["sysctls"], spec);
  if (root["load"]) ParseLoad(root["load"], spec);
  if (root["record"]) {
    ParseRecord(root["record"], spec);
  } else {
    spec.record = {"classes", "containers", "samples", "host_facts"};
  }
  if (root["host_facts_sysctls"]) {
    spec.facts_sysctls = StringList(root["host_facts_sysctls"], "host_facts_sysctls");
  }
  if (root["plots"]) ParsePlots(root["plots"], spec);
  if (root["compare"]) ParseCompare(root["compare"], spec);
  CrossCheck(spec);
}

void SpecParser::CheckDuplicateKeys(const YAML::Node& n) {
  if (!n.IsMap() && !n.IsSequence()) return;
  YAML::Mark m = n.Mark();
  if (!m.is_null() && !walked_.insert({m.pos, static_cast<int>(n.Type())}).second) return;
  if (n.IsSequence()) {
    for (const auto& item : n) CheckDuplicateKeys(item);
    return;
  }
  // yaml-cpp keeps every entry of a mapping, but lookups see only the first of equal keys.
  std::map<std::string, SourcePos> first;
  for (const auto& kv : n) {
    if (kv.first.IsScalar()) {
      auto [it, inserted] = first.emplace(kv.first.Scalar(), Pos(kv.first));
      if (!inserted) {
        Error(kv.first,
              absl::StrCat("duplicate key \"", kv.first.Scalar(), "\" (first at ", it->second.line,
                           ":", it->second.column, "); expected each key once in a mapping"));
      }
    } else {
      CheckDuplicateKeys(kv.first);
    }
    CheckDuplicateKeys(kv.second);
  }
}

void SpecParser::CrossCheck(ExperimentSpec& spec) {
  std::set<std::string> agents, loadgens;
  for (const auto& a : spec.agents) agents.insert(a.name);
  for (const auto& l : spec.loadgens) loadgens.insert(l.name);
  for (const auto& [name, pos] : agent_refs_) {
    if (!spec.local_mode() && !agents.count(name)) {
      Error(pos, absl::StrCat("agent \"", name, "\" is not in hosts.agents; expected one of ",
                              absl::StrJoin(agents, ", ")));
    } else if (spec.local_mode() && name != kLocalHost) {
      Error(pos, absl::StrCat("agent \"", name,
                              "\" is named but no hosts are listed (local mode); expected \"",
                              kLocalHost, "\" or no agent"));
    }
  }
  for (const auto& [name, pos] : loadgen_refs_) {
    if (!spec.local_mode() && !loadgens.count(name)) {
      Error(pos,
            absl::StrCat("load generator \"", name, "\" is not in hosts.loadgens; expected one of ",
                         absl::StrJoin(loadgens, ", ")));
    } else if (spec.local_mode() && name != kLocalHost) {
      Error(pos, absl::StrCat("load generator \"", name,
                              "\" is named but no hosts are listed (local mode); expected \"",
                              kLocalHost, "\" or no loadgen"));
    }
  }
  if (spec.network == LocalNetwork::kNamespaces && !spec.local_mode()) {
    Error(network_pos_,
          "network: namespaces is for local mode, but hosts are listed; expected no network key "
          "(multi-host experiments use the hosts' own network)");
  }
  if (spec.network == LocalNetwork::kNamespaces) {
    // The agent in the namespace gets exactly these on its allow-list, so a spec cannot reach
    // host-wide state through it (kernel.*, vm.*, and net.* knobs that are not per namespace).
    const auto& allowed = NamespacedSysctls();
    for (const auto& [name, value] : spec.sysctls) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        Error(value.pos,
              absl::StrCat("sysctl \"", name,
                           "\" is not one that network: namespaces may set (it is host-wide, or "
                           "not on the list); expected one of ",
                           absl::StrJoin(allowed, ", ")));
      }
    }
  }
  if (spec.syn_flood && spec.local_mode() && spec.network != LocalNetwork::kNamespaces) {
    Error(spec.syn_flood->pos,
          "load.syn_flood in local mode needs \"network: namespaces\" (a spoofed flood must not "
          "run on the host's loopback, where answers to spoofed sources could leave); expected "
          "network: namespaces");
  }
  // Placeholders must name a factor or a run-time fact.
  TemplateVars runtime = PlaceholderRuntimeVars(spec);
  for (const auto& p : pending_placeholders_) {
    if (spec.FindFactor(p.name) != nullptr || runtime.count(p.name)) continue;
    std::vector<std::string> known;
    for (const auto& f : spec.factors) known.push_back(f.name);
    for (const auto& [k, v] : runtime) known.push_back(k);
    Error(p.pos, absl::StrCat("unknown placeholder {{", p.name, "}}; expected one of ",
                              absl::StrJoin(known, ", ")));
  }
  // Every run's rendered values must be valid: render each distinct combination (unknown
  // placeholders, reported above, render as "1" so their fields are still checked).
  for (const auto& p : pending_placeholders_) runtime.try_emplace(p.name, "1");
  for (const auto& zip : spec.zip_groups) {
    for (const auto& name : zip) {
      if (spec.FindFactor(name) == nullptr) return;  // reported above; the matrix is undefined
    }
  }
  if (matrix_too_large_) return;  // reported; expanding it is what the limit prevents
  auto combos = ExpandCombinations(spec);
  if (combos.empty()) {
    Error(factors_pos_.line ? factors_pos_ : SourcePos{1, 1},
          "the exclude rules remove every run; expected at least one run");
    return;
  }
  for (const auto& combo : combos) {
    TemplateVars vars = runtime;
    for (const auto& [k, v] : combo) vars[k] = v;
    auto report = [&](const absl::Status& s) {
      if (s.ok()) return;
      std::vector<std::string> levels;
      for (const auto& [k, v] : combo) levels.push_back(absl::StrCat(k, "=", v));
      std::string msg(s.message());
      // Messages from workload.cc start with "LINE:COLUMN: ".
      std::string with_run =
          combo.empty() ? msg
                        : absl::StrCat(msg, " (in the run with ", absl::StrJoin(levels, ", "), ")");
      std::string line = absl::StrCat(source_, ":", with_run);
      // One message per field and problem, not one per run.
      std::string key = absl::StrCat(source_, ":", msg);
      if (seen_.insert(key).second) errors_.push_back(std::move(line));
    };
    report(RenderServerArgs(spec, vars).status());
    report(RenderServerClasses(spec, vars).status());
    report(RenderBenchmarkArgs(spec, vars).status());
    report(RenderContainers(spec, vars).status());
    report(RenderSysctls(spec, vars).status());
    report(RenderWorkloads(spec, vars, spec.phases.measure).status());
    report(RenderSpoofPrefix(spec, vars).status());
    if (errors_.size() > 50) break;
  }
}

}  // namespace spec_internal

bool ExperimentSpec::Records(absl::string_view what) const {
  return std::find(record.begin(), record.end(), what) != record.end();
}

const Factor* ExperimentSpec::FindFactor(absl::string_view n) const {
  for (const auto& f : factors) {
    if (f.name == n) return &f;
  }
  return nullptr;
}

MetricRule DefaultRuleFor(absl::string_view metric) {
  MetricRule rule;
  if (metric == "throughput_rps") {
    rule.direction = Direction::kHigherIsBetter;
    rule.min_effect = 0.05;
  } else if (absl::StartsWith(metric, "latency_") || absl::EndsWith(metric, "_per_op_ns") ||
             absl::StartsWith(metric, "generator_")) {
    rule.direction = Direction::kLowerIsBetter;
    rule.min_effect = 0.10;
  } else {
    rule.direction = Direction::kLowerIsBetter;
    rule.min_effect = 0.05;
  }
  return rule;
}

const std::vector<std::string>& NamespacedSysctls() {
  // Each is per network namespace (a non-initial namespace's /proc/sys/net shows it).
  static const auto* kNames = new std::vector<std::string>{"net.core.somaxconn",
                                                           "net.ipv4.ip_local_port_range",
                                                           "net.ipv4.tcp_abort_on_overflow",
                                                           "net.ipv4.tcp_ecn",
                                                           "net.ipv4.tcp_fin_timeout",
                                                           "net.ipv4.tcp_keepalive_time",
                                                           "net.ipv4.tcp_max_syn_backlog",
                                                           "net.ipv4.tcp_max_tw_buckets",
                                                           "net.ipv4.tcp_rmem",
                                                           "net.ipv4.tcp_sack",
                                                           "net.ipv4.tcp_syn_retries",
                                                           "net.ipv4.tcp_synack_retries",
                                                           "net.ipv4.tcp_syncookies",
                                                           "net.ipv4.tcp_timestamps",
                                                           "net.ipv4.tcp_tw_reuse",
                                                           "net.ipv4.tcp_window_scaling",
                                                           "net.ipv4.tcp_wmem"};
  return *kNames;
}

absl::StatusOr<ExperimentSpec> ParseSpec(absl::string_view yaml, absl::string_view source_name,
                                         const SpecLimits& limits) {
  if (yaml.size() > limits.max_spec_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":1:1: the spec is larger than the limit of ",
                     limits.max_spec_bytes, " bytes; expected a smaller spec"));
  }
  ExperimentSpec spec;
  spec.source_name = std::string(source_name);
  spec.yaml = std::string(yaml);
  RCBENCH_ASSIGN_OR_RETURN(const YAML::Node root, yaml::Load(spec.yaml, source_name));
  spec_internal::SpecParser parser(source_name, limits);
  try {
    parser.Parse(root, spec);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(yaml::Where(source_name, e.mark.line + 1, e.mark.column + 1), ": ", e.msg));
  }
  if (!parser.errors().empty()) {
    std::vector<std::string> errors = parser.errors();
    auto position = [&](const std::string& e) {
      int line = 0, column = 0;
      std::vector<std::string> parts =
          absl::StrSplit(absl::string_view(e).substr(source_name.size() + 1), ':');
      if (parts.size() >= 2) {
        (void)absl::SimpleAtoi(parts[0], &line);
        (void)absl::SimpleAtoi(parts[1], &column);
      }
      return std::make_pair(line, column);
    };
    std::stable_sort(errors.begin(), errors.end(),
                     [&](const auto& a, const auto& b) { return position(a) < position(b); });
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return spec;
}

absl::StatusOr<ExperimentSpec> LoadSpecFile(const std::string& path, const SpecLimits& limits) {
  // A file over the limit is refused unread.
  RCBENCH_ASSIGN_OR_RETURN(const std::string text,
                           yaml::ReadFile(path, "experiment spec", limits.max_spec_bytes));
  return ParseSpec(text, path, limits);
}

}  // namespace rcbench::controller
