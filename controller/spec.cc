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
#include "controller/template.h"
#include "controller/workload.h"

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

namespace {

// Walks the YAML document, filling an ExperimentSpec and collecting every problem.
class SpecParser {
 public:
  SpecParser(absl::string_view source, const SpecLimits& limits)
      : source_(source), limits_(limits) {}

  void Parse(const YAML::Node& root, ExperimentSpec& spec);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  static SourcePos Pos(const YAML::Node& n) {
    YAML::Mark m = n.Mark();
    if (m.is_null()) return {1, 1};
    return {m.line + 1, m.column + 1};
  }
  void Error(const SourcePos& pos, absl::string_view message) {
    std::string line = absl::StrCat(yaml::Where(source_, pos.line, pos.column), ": ", message);
    if (seen_.insert(line).second) errors_.push_back(std::move(line));
  }
  void Error(const YAML::Node& n, absl::string_view message) { Error(Pos(n), message); }

  // Checks that `n` is a map whose keys are all in `allowed`.
  bool ExpectMap(const YAML::Node& n, absl::string_view what,
                 const std::vector<std::string>& allowed) {
    if (!n.IsMap()) {
      Error(n, absl::StrCat(what, " is not a mapping; expected a mapping of ",
                            absl::StrJoin(allowed, ", ")));
      return false;
    }
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(kv.first, absl::StrCat("unknown key \"", key, "\" in ", what, "; expected one of ",
                                     absl::StrJoin(allowed, ", ")));
      }
    }
    return true;
  }
  std::optional<std::string> Scalar(const YAML::Node& n, absl::string_view what) {
    if (!n.IsScalar()) {
      Error(n, absl::StrCat(what, " is not a scalar; expected a single value"));
      return std::nullopt;
    }
    return n.Scalar();
  }
  std::optional<Templated> Template(const YAML::Node& n, absl::string_view what) {
    auto s = Scalar(n, what);
    if (!s) return std::nullopt;
    Templated t{*s, Pos(n)};
    CheckPlaceholders(t, what);
    return t;
  }
  std::vector<Templated> TemplateList(const YAML::Node& n, absl::string_view what) {
    std::vector<Templated> out;
    if (!n.IsSequence()) {
      Error(n, absl::StrCat(what, " is not a list; expected a list of strings"));
      return out;
    }
    for (const auto& item : n) {
      if (auto t = Template(item, what)) out.push_back(*t);
    }
    return out;
  }
  std::vector<std::string> StringList(const YAML::Node& n, absl::string_view what) {
    std::vector<std::string> out;
    if (!n.IsSequence()) {
      Error(n, absl::StrCat(what, " is not a list; expected a list of strings"));
      return out;
    }
    for (const auto& item : n) {
      if (auto s = Scalar(item, what)) out.push_back(*s);
    }
    return out;
  }
  std::optional<std::chrono::nanoseconds> DurationField(const YAML::Node& n,
                                                        absl::string_view what) {
    auto s = Scalar(n, what);
    if (!s) return std::nullopt;
    auto d = ParseDuration(*s);
    if (!d.ok()) {
      Error(n, absl::StrCat(what, ": ", d.status().message()));
      return std::nullopt;
    }
    return *d;
  }
  void CheckPlaceholders(const Templated& t, absl::string_view what) {
    auto names = Placeholders(t.text);
    if (!names.ok()) {
      Error(t.pos, absl::StrCat(what, ": ", names.status().message()));
      return;
    }
    for (const auto& name : *names) pending_placeholders_.push_back({name, t.pos});
  }

  void CheckDuplicateKeys(const YAML::Node& n);
  void CheckMatrixSize(const ExperimentSpec& spec);
  void ParseHosts(const YAML::Node& n, ExperimentSpec& spec);
  std::vector<HostEndpoint> ParseEndpoints(const YAML::Node& n, absl::string_view what);
  void ParseNetwork(const YAML::Node& n, ExperimentSpec& spec);
  void ParseServer(const YAML::Node& n, ExperimentSpec& spec);
  void ParseBenchmark(const YAML::Node& root, ExperimentSpec& spec);
  void ParseFactors(const YAML::Node& n, ExperimentSpec& spec);
  void ParseZip(const YAML::Node& n, ExperimentSpec& spec);
  void CheckZipRowsDistinct(const YAML::Node& group, const std::vector<std::string>& names,
                            const ExperimentSpec& spec);
  void CheckRepeatedLevels(const ExperimentSpec& spec);
  void ParseExclude(const YAML::Node& n, ExperimentSpec& spec);
  void ParsePhases(const YAML::Node& n, ExperimentSpec& spec);
  void ParseLease(const YAML::Node& n, ExperimentSpec& spec);
  void ParseContainers(const YAML::Node& n, ExperimentSpec& spec);
  void ParseSysctls(const YAML::Node& n, ExperimentSpec& spec);
  void ParseLoad(const YAML::Node& n, ExperimentSpec& spec);
  void ParseLoadClass(const YAML::Node& n, ExperimentSpec& spec);
  void ParseSynFlood(const YAML::Node& n, ExperimentSpec& spec);
  void ParseRecord(const YAML::Node& n, ExperimentSpec& spec);
  void ParsePlots(const YAML::Node& n, ExperimentSpec& spec);
  void ParseCompare(const YAML::Node& n, ExperimentSpec& spec);
  void CrossCheck(ExperimentSpec& spec);

  std::string source_;
  const SpecLimits limits_;
  // The matrix is over the limit: it must not be expanded.
  bool matrix_too_large_ = false;
  // Mappings and sequences already walked by CheckDuplicateKeys, by position and kind: an
  // alias shares its anchor's node (and mark), and walking it again could take exponential time.
  std::set<std::pair<int, int>> walked_;
  std::vector<std::string> errors_;
  std::set<std::string> seen_;
  std::map<std::string, SourcePos> factor_pos_;
  // Levels that appeared twice in a factor: an error unless the factor is zipped, where
  // repeats are how a zip row says "the same value as another row" (then rows must differ).
  struct RepeatedLevel {
    std::string factor;
    std::string level;
    SourcePos pos;
  };
  std::vector<RepeatedLevel> repeated_levels_;
  struct PendingPlaceholder {
    std::string name;
    SourcePos pos;
  };
  std::vector<PendingPlaceholder> pending_placeholders_;
  std::vector<std::pair<std::string, SourcePos>> loadgen_refs_;
  std::vector<std::pair<std::string, SourcePos>> agent_refs_;
  SourcePos factors_pos_;
  SourcePos network_pos_;
};

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

void SpecParser::CheckMatrixSize(const ExperimentSpec& spec) {
  const uint64_t runs = PlannedRunUpperBound(spec);
  if (runs <= limits_.max_planned_runs) return;
  matrix_too_large_ = true;
  Error(
      factors_pos_.line ? factors_pos_ : SourcePos{1, 1},
      absl::StrCat("the factor matrix plans ",
                   runs == UINT64_MAX ? "more than 2^64" : absl::StrCat(runs), " runs (",
                   DescribeMatrixSize(spec), "), more than the limit of ", limits_.max_planned_runs,
                   " (--max-planned-runs); expected fewer factor levels or repetitions"));
}

std::vector<HostEndpoint> SpecParser::ParseEndpoints(const YAML::Node& n, absl::string_view what) {
  std::vector<HostEndpoint> out;
  if (!n.IsSequence()) {
    Error(n, absl::StrCat(what, " is not a list; expected a list of {name, address}"));
    return out;
  }
  std::set<std::string> names;
  for (const auto& item : n) {
    if (!ExpectMap(item, what,
                   {"name", "address", "server_name", "ca", "cert", "key", "token_file"})) {
      continue;
    }
    HostEndpoint e;
    e.pos = Pos(item);
    if (!item["name"] || !item["address"]) {
      Error(item, absl::StrCat("an entry of ", what, " lacks name or address; expected both"));
      continue;
    }
    if (auto s = Scalar(item["name"], "name")) e.name = *s;
    if (auto s = Scalar(item["address"], "address")) e.address = *s;
    for (auto [key, field] : {std::pair<const char*, std::string*>{"server_name", &e.server_name},
                              {"ca", &e.tls.ca_file},
                              {"cert", &e.tls.cert_file},
                              {"key", &e.tls.key_file},
                              {"token_file", &e.token_file}}) {
      if (item[key]) {
        if (auto s = Scalar(item[key], key)) *field = *s;
      }
    }
    if (e.tls.enabled() &&
        (e.tls.ca_file.empty() || e.tls.cert_file.empty() || e.tls.key_file.empty())) {
      Error(item, absl::StrCat("host \"", e.name,
                               "\" gives only some of ca, cert and key; expected all three"));
    }
    if (!IsIdentifier(e.name, 32)) {
      Error(item["name"], absl::StrCat("host name \"", e.name,
                                       "\" is invalid; expected [A-Za-z0-9_-], up to 32"));
    }
    if (!names.insert(e.name).second) {
      Error(item["name"], absl::StrCat("duplicate host name \"", e.name, "\" in ", what,
                                       "; expected unique names"));
    }
    auto hp = ParseHostPort(e.address);
    if (!hp.ok() || hp->port == 0) {
      Error(item["address"], absl::StrCat("address \"", e.address,
                                          "\" is invalid; expected HOST:PORT with a port > 0"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

void SpecParser::ParseHosts(const YAML::Node& n, ExperimentSpec& spec) {
  if (!ExpectMap(n, "hosts", {"agents", "loadgens"})) return;
  if (n["agents"]) spec.agents = ParseEndpoints(n["agents"], "hosts.agents");
  if (n["loadgens"]) spec.loadgens = ParseEndpoints(n["loadgens"], "hosts.loadgens");
  if (spec.agents.empty() != spec.loadgens.empty()) {
    Error(n,
          "hosts lists only agents or only load generators; expected both (or no hosts for "
          "local mode)");
  }
}

void SpecParser::ParseNetwork(const YAML::Node& n, ExperimentSpec& spec) {
  network_pos_ = Pos(n);
  auto s = Scalar(n, "network");
  if (!s) return;
  if (*s == "loopback") {
    spec.network = LocalNetwork::kLoopback;
  } else if (*s == "namespaces") {
    spec.network = LocalNetwork::kNamespaces;
  } else {
    Error(n, absl::StrCat("network is \"", *s, "\"; expected loopback or namespaces"));
  }
}

void SpecParser::ParseServer(const YAML::Node& n, ExperimentSpec& spec) {
  if (!ExpectMap(n, "server",
                 {"binary", "service", "agent", "listen", "args", "classes", "container",
                  "ready_timeout"})) {
    return;
  }
  ServerSpec s;
  if (n["binary"]) s.binary = Scalar(n["binary"], "server.binary").value_or(s.binary);
  if (n["service"]) s.service = Scalar(n["service"], "server.service").value_or(s.service);
  if (n["agent"]) {
    s.agent = Scalar(n["agent"], "server.agent").value_or("");
    agent_refs_.push_back({s.agent, Pos(n["agent"])});
  }
  if (n["listen"]) {
    s.listen_address = Scalar(n["listen"], "server.listen").value_or(s.listen_address);
    if (!IpAddress::Parse(s.listen_address).ok()) {
      Error(n["listen"], absl::StrCat("server.listen \"", s.listen_address,
                                      "\" is not an IP address; expected e.g. 10.213.0.1"));
    }
  }
  if (n["args"]) s.args = TemplateList(n["args"], "server.args");
  if (n["classes"]) {
    s.classes = TemplateList(n["classes"], "server.classes");
    std::set<std::string> seen;
    for (const auto& t : s.classes) {
      if (absl::StrContains(t.text, "{{")) {
        s.templated_classes = true;
        continue;  // checked per run, once rendered
      }
      const std::string& c = t.text;
      if (!IsIdentifier(c, 32) || !seen.insert(c).second) {
        Error(n["classes"], absl::StrCat("server class \"", c,
                                         "\" is invalid or repeated; expected unique names of "
                                         "[A-Za-z0-9_-]"));
      }
    }
  }
  if (n["container"]) s.container = Scalar(n["container"], "server.container").value_or("");
  if (n["ready_timeout"]) {
    s.ready_timeout =
        DurationField(n["ready_timeout"], "server.ready_timeout").value_or(s.ready_timeout);
  }
  spec.server = std::move(s);
}

void SpecParser::ParseBenchmark(const YAML::Node& root, ExperimentSpec& spec) {
  const YAML::Node& n = root["benchmark"];
  if (!ExpectMap(n, "benchmark", {"binary", "args", "timeout"})) return;
  BenchmarkSpec b;
  b.pos = Pos(n);
  if (n["binary"]) {
    b.binary = Scalar(n["binary"], "benchmark.binary").value_or("");
    if (b.binary.empty()) {
      Error(n["binary"], "benchmark.binary is empty; expected a program name or path");
    }
  }
  if (n["args"]) {
    b.args = TemplateList(n["args"], "benchmark.args");
    for (const auto& a : b.args) {
      if (absl::StartsWith(a.text, "--benchmark_out")) {
        Error(a.pos, absl::StrCat("benchmark.args \"", a.text,
                                  "\" sets the output file, which the controller chooses; "
                                  "expected other flags"));
      }
    }
  }
  if (n["timeout"]) {
    b.timeout = DurationField(n["timeout"], "benchmark.timeout").value_or(b.timeout);
    if (b.timeout <= std::chrono::nanoseconds(0) || b.timeout > std::chrono::hours(24)) {
      Error(n["timeout"], "benchmark.timeout is out of range; expected a duration in (0, 24h]");
    }
  }
  // A benchmark run replaces the server and its load, and runs on the controller's host.
  for (const char* key : {"server", "load"}) {
    if (root[key]) {
      Error(root[key], absl::StrCat("\"", key,
                                    "\" cannot be combined with \"benchmark\" (a benchmark run "
                                    "executes the program instead of a server and load); "
                                    "expected one or the other"));
    }
  }
  if (root["hosts"]) {
    Error(root["hosts"],
          "\"benchmark\" runs the program on the controller's host, so it needs local mode; "
          "expected no \"hosts\"");
  }
  if (root["phases"] && root["phases"].IsMap()) {
    for (const char* key : {"warmup", "measure", "cooldown"}) {
      if (root["phases"][key]) {
        Error(root["phases"][key],
              absl::StrCat("phases.", key,
                           " does not apply to benchmark runs (the program times itself); "
                           "expected only phases.setup"));
      }
    }
  }
  spec.benchmark = std::move(b);
}

void SpecParser::ParseFactors(const YAML::Node& n, ExperimentSpec& spec) {
  factors_pos_ = Pos(n);
  if (!n.IsMap()) {
    Error(n, "factors is not a mapping; expected FACTOR: [level, level, ...]");
    return;
  }
  for (const auto& kv : n) {
    Factor f;
    f.name = kv.first.Scalar();
    f.pos = Pos(kv.first);
    if (!IsIdentifier(f.name, 32) || f.name.find('.') != std::string::npos) {
      Error(kv.first, absl::StrCat("factor name \"", f.name,
                                   "\" is invalid; expected [A-Za-z0-9_-], starting with a "
                                   "letter, up to 32"));
    }
    if (f.name == "server" || f.name == "run") {
      Error(kv.first, absl::StrCat("factor name \"", f.name,
                                   "\" is reserved for placeholders; expected another name"));
    }
    const YAML::Node& levels = kv.second;
    if (levels.IsScalar()) {
      f.levels.push_back(levels.Scalar());
    } else if (!levels.IsSequence() || levels.size() == 0) {
      Error(levels, absl::StrCat("factor \"", f.name,
                                 "\" has no levels; expected a non-empty list of values"));
    } else {
      std::set<std::string> seen;
      for (const auto& level : levels) {
        auto s = Scalar(level, absl::StrCat("a level of factor \"", f.name, "\""));
        if (!s) continue;
        if (!seen.insert(*s).second) repeated_levels_.push_back({f.name, *s, Pos(level)});
        f.levels.push_back(*s);
      }
    }
    factor_pos_[f.name] = f.pos;
    spec.factors.push_back(std::move(f));
  }
}

void SpecParser::ParseZip(const YAML::Node& n, ExperimentSpec& spec) {
  if (!n.IsSequence()) {
    Error(n, "zip is not a list; expected a list of factor-name lists, e.g. [[a, b]]");
    return;
  }
  std::set<std::string> used;
  for (const auto& group : n) {
    std::vector<std::string> names = StringList(group, "a zip group");
    if (names.size() < 2) {
      Error(group, "a zip group has fewer than two factors; expected at least two");
      continue;
    }
    size_t expected_levels = 0;
    bool group_ok = true;
    for (const auto& name : names) {
      const Factor* f = spec.FindFactor(name);
      if (f == nullptr) {
        Error(group,
              absl::StrCat("zip names unknown factor \"", name, "\"; expected one of the factors"));
        group_ok = false;
        continue;
      }
      if (!used.insert(name).second) {
        Error(group, absl::StrCat("factor \"", name,
                                  "\" is in more than one zip group; expected at most one"));
      }
      if (expected_levels == 0) {
        expected_levels = f->levels.size();
      } else if (f->levels.size() != expected_levels) {
        group_ok = false;
        Error(group, absl::StrCat("zip group factors have different numbers of levels (\"", name,
                                  "\" has ", f->levels.size(), "); expected equal numbers"));
      }
    }
    if (group_ok) CheckZipRowsDistinct(group, names, spec);
    spec.zip_groups.push_back(std::move(names));
  }
}

void SpecParser::CheckZipRowsDistinct(const YAML::Node& group,
                                      const std::vector<std::string>& names,
                                      const ExperimentSpec& spec) {
  std::map<std::vector<std::string>, size_t> rows;
  size_t n = spec.FindFactor(names.front())->levels.size();
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> row;
    for (const auto& name : names) row.push_back(spec.FindFactor(name)->levels[i]);
    auto [it, inserted] = rows.emplace(row, i);
    if (!inserted) {
      Error(group,
            absl::StrCat("zip group rows ", it->second + 1, " and ", i + 1, " are identical (",
                         absl::StrJoin(row, ", "), "); expected distinct combinations"));
    }
  }
}

void SpecParser::CheckRepeatedLevels(const ExperimentSpec& spec) {
  std::set<std::string> zipped;
  for (const auto& group : spec.zip_groups) zipped.insert(group.begin(), group.end());
  for (const RepeatedLevel& r : repeated_levels_) {
    if (zipped.count(r.factor)) continue;
    Error(r.pos, absl::StrCat("level \"", r.level, "\" of factor \"", r.factor,
                              "\" is repeated; expected distinct levels (repeats are allowed only "
                              "in factors of a zip group)"));
  }
}

void SpecParser::ParseExclude(const YAML::Node& n, ExperimentSpec& spec) {
  if (!n.IsSequence()) {
    Error(n, "exclude is not a list; expected a list of {factor: level, ...} mappings");
    return;
  }
  if (n.size() > limits_.max_exclude_rules) {
    Error(n, absl::StrCat("exclude has ", n.size(), " entries, more than the limit of ",
                          limits_.max_exclude_rules, "; expected fewer (use zip or fewer levels)"));
    return;
  }
  for (const auto& item : n) {
    if (!item.IsMap() || item.size() == 0) {
      Error(item, "an exclude entry is not a non-empty mapping; expected {factor: level, ...}");
      continue;
    }
    ExcludeRule rule;
    rule.pos = Pos(item);
    for (const auto& kv : item) {
      std::string factor = kv.first.Scalar();
      const Factor* f = spec.FindFactor(factor);
      if (f == nullptr) {
        Error(kv.first, absl::StrCat("exclude names unknown factor \"", factor,
                                     "\"; expected one of the factors"));
        continue;
      }
      auto level = Scalar(kv.second, "an exclude level");
      if (!level) continue;
      if (std::find(f->levels.begin(), f->levels.end(), *level) == f->levels.end()) {
        Error(kv.second,
              absl::StrCat("exclude names unknown level \"", *level, "\" of factor \"", factor,
                           "\"; expected one of ", absl::StrJoin(f->levels, ", ")));
        continue;
      }
      rule.when[factor] = *level;
    }
    spec.excludes.push_back(std::move(rule));
  }
}

void SpecParser::ParsePhases(const YAML::Node& n, ExperimentSpec& spec) {
  if (!ExpectMap(n, "phases", {"setup", "warmup", "measure", "cooldown"})) return;
  auto field = [&](const char* key, std::chrono::nanoseconds& out) {
    if (n[key]) {
      if (auto d = DurationField(n[key], absl::StrCat("phases.", key))) out = *d;
    }
  };
  field("setup", spec.phases.setup);
  field("warmup", spec.phases.warmup);
  field("measure", spec.phases.measure);
  field("cooldown", spec.phases.cooldown);
  if (spec.phases.measure <= std::chrono::nanoseconds(0)) {
    Error(n["measure"] ? n["measure"] : n, "phases.measure is zero; expected a positive duration");
  }
  if (spec.phases.warmup + spec.phases.measure + spec.phases.cooldown + spec.phases.setup >
      std::chrono::hours(24)) {
    Error(n, "the phases add up to more than 24h; expected a bounded run");
  }
}

void SpecParser::ParseLease(const YAML::Node& n, ExperimentSpec& spec) {
  if (!ExpectMap(n, "lease", {"length", "renew_every"})) return;
  if (n["length"]) spec.lease.length = DurationField(n["length"], "lease.length");
  if (n["renew_every"]) {
    spec.lease.renew_every = DurationField(n["renew_every"], "lease.renew_every");
  }
  absl::Status s = CheckLease(spec.lease.length.value_or(kDefaultLeaseLength),
                              spec.lease.renew_every.value_or(kDefaultLeaseRenewEvery));
  if (!s.ok()) Error(n, absl::StrCat("lease: ", s.message()));
}

void SpecParser::ParseContainers(const YAML::Node& n, ExperimentSpec& spec) {
  if (!n.IsSequence()) {
    Error(n, "containers is not a list; expected a list of {path, cpu_weight, ...}");
    return;
  }
  for (const auto& item : n) {
    if (!ExpectMap(item, "a container",
                   {"path", "agent", "cpu_weight", "cpu_limit", "cpu_period", "memory_limit",
                    "pids_limit"})) {
      continue;
    }
    ContainerSpec c;
    c.pos = Pos(item);
    if (!item["path"]) {
      Error(item, "a container lacks \"path\"; expected a path under the rcbench root");
      continue;
    }
    if (auto t = Template(item["path"], "container path")) c.path = *t;
    if (item["agent"]) {
      c.agent = Scalar(item["agent"], "container agent").value_or("");
      agent_refs_.push_back({c.agent, Pos(item["agent"])});
    }
    for (const char* key :
         {"cpu_weight", "cpu_limit", "cpu_period", "memory_limit", "pids_limit"}) {
      if (item[key]) {
        if (auto t = Template(item[key], key)) c.attributes[key] = *t;
      }
    }
    spec.containers.push_back(std::move(c));
  }
}

void SpecParser::ParseSysctls(const YAML::Node& n, ExperimentSpec& spec) {
  if (!n.IsMap()) {
    Error(n, "sysctls is not a mapping; expected NAME: VALUE");
    return;
  }
  for (const auto& kv : n) {
    std::string name = kv.first.Scalar();
    // The agent's rule, so that a name it would refuse at run time is refused here.
    if (!agent::ValidateSysctlName(name).ok()) {
      Error(kv.first, absl::StrCat("sysctl name \"", absl::CHexEscape(name),
                                   "\" is invalid; expected a dotted name of [a-z0-9_-] parts "
                                   "like net.ipv4.tcp_syncookies (at most 128 bytes)"));
      continue;
    }
    if (auto t = Template(kv.second, absl::StrCat("sysctl ", name))) spec.sysctls[name] = *t;
  }
}

void SpecParser::ParseLoad(const YAML::Node& n, ExperimentSpec& spec) {
  if (!ExpectMap(n, "load",
                 {"threads", "io", "io_batch", "io_batch_wait", "stats_interval", "classes",
                  "syn_flood"})) {
    return;
  }
  if (n["threads"]) spec.load_threads = Template(n["threads"], "load.threads");
  if (n["io"]) spec.load_io = Template(n["io"], "load.io");
  if (n["io_batch"]) spec.load_io_batch = Template(n["io_batch"], "load.io_batch");
  if (n["io_batch_wait"]) {
    spec.load_io_batch_wait = Template(n["io_batch_wait"], "load.io_batch_wait");
  }
  if (n["stats_interval"]) {
    spec.stats_interval =
        DurationField(n["stats_interval"], "load.stats_interval").value_or(spec.stats_interval);
  }
  if (n["classes"]) {
    if (!n["classes"].IsSequence()) {
      Error(n["classes"], "load.classes is not a list; expected a list of load classes");
    } else {
      for (const auto& item : n["classes"]) ParseLoadClass(item, spec);
    }
  }
  if (n["syn_flood"]) ParseSynFlood(n["syn_flood"], spec);
}

void SpecParser::ParseLoadClass(const YAML::Node& n, ExperimentSpec& spec) {
  static const std::map<std::string, std::vector<std::string>> kModeParams = {
      {"sclient", {"clients", "sockets_per_client", "connect_timeout"}},
      {"open_loop", {"rate", "arrival", "max_connections"}},
      {"closed_loop", {"connections"}},
  };
  static const std::vector<std::string> kCommon = {"keep_alive", "response_timeout", "linger_zero",
                                                   "threads"};
  std::vector<std::string> allowed = {"name",  "loadgen",          "mode",   "target",
                                      "paths", "source_addresses", "headers"};
  for (const auto& [mode, params] : kModeParams) {
    allowed.insert(allowed.end(), params.begin(), params.end());
  }
  allowed.insert(allowed.end(), kCommon.begin(), kCommon.end());
  if (!ExpectMap(n, "a load class", allowed)) return;
  LoadClassSpec c;
  c.pos = Pos(n);
  if (!n["name"]) {
    Error(n, "a load class lacks \"name\"; expected a unique class name");
  } else if (auto s = Scalar(n["name"], "load class name")) {
    c.name = *s;
    if (!IsIdentifier(c.name, 32)) {
      Error(n["name"], absl::StrCat("load class name \"", c.name,
                                    "\" is invalid; expected [A-Za-z0-9_-]{1,32}"));
    }
    for (const auto& other : spec.load_classes) {
      if (other.name == c.name) {
        Error(n["name"],
              absl::StrCat("duplicate load class \"", c.name, "\"; expected unique class names"));
      }
    }
  }
  if (n["loadgen"]) {
    c.loadgen = Scalar(n["loadgen"], "loadgen").value_or("");
    loadgen_refs_.push_back({c.loadgen, Pos(n["loadgen"])});
  }
  if (!n["mode"]) {
    Error(n, absl::StrCat("a load class lacks \"mode\"; expected ", kLoadModeNames));
  } else if (auto s = Scalar(n["mode"], "mode")) {
    // The canonical name, also for the load generator's older aliases (open, closed).
    const std::optional<LoadMode> mode = ParseLoadMode(*s);
    c.mode = mode ? LoadModeName(*mode) : *s;
    auto it = kModeParams.find(c.mode);
    if (it == kModeParams.end()) {
      Error(n["mode"], absl::StrCat("mode \"", c.mode, "\" is unknown; expected ", kLoadModeNames));
    } else {
      for (const auto& kv : n) {
        std::string key = kv.first.Scalar();
        bool other_mode = false;
        for (const auto& [mode, params] : kModeParams) {
          if (mode != c.mode && std::find(params.begin(), params.end(), key) != params.end()) {
            other_mode = true;
          }
        }
        if (other_mode &&
            std::find(it->second.begin(), it->second.end(), key) == it->second.end()) {
          Error(kv.first, absl::StrCat("\"", key, "\" does not apply to mode ", c.mode,
                                       "; expected one of ", absl::StrJoin(it->second, ", ")));
        }
      }
      const char* required = c.mode == "sclient"     ? "clients"
                             : c.mode == "open_loop" ? "rate"
                                                     : "connections";
      if (!n[required]) {
        Error(n, absl::StrCat("load class \"", c.name, "\" (", c.mode, ") lacks \"", required,
                              "\"; expected it to be set"));
      }
    }
  }
  for (const auto& kv : n) {
    std::string key = kv.first.Scalar();
    if (key == "name" || key == "loadgen" || key == "mode" || key == "target" || key == "paths" ||
        key == "source_addresses" || key == "headers") {
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) continue;
    if (auto t = Template(kv.second, key)) c.params[key] = *t;
  }
  if (n["target"]) {
    if (auto t = Template(n["target"], "target")) c.target = *t;
  } else {
    bool per_class = false;
    if (spec.server) {
      for (const auto& t : spec.server->classes) per_class |= t.text == c.name;
      c.auto_target = !per_class && spec.server->templated_classes;
    }
    c.target = Templated{per_class ? "{{server.http." + c.name + "}}" : "{{server.http}}", c.pos};
    if (!spec.server) {
      Error(n, absl::StrCat("load class \"", c.name,
                            "\" has no target and the experiment has no server; expected "
                            "\"target\""));
    }
  }
  if (n["paths"]) c.paths = TemplateList(n["paths"], "paths");
  if (n["source_addresses"]) {
    c.source_addresses = TemplateList(n["source_addresses"], "source_addresses");
  }
  if (n["headers"]) c.headers = TemplateList(n["headers"], "headers");
  spec.load_classes.push_back(std::move(c));
}

void SpecParser::ParseSynFlood(const YAML::Node& n, ExperimentSpec& spec) {
  if (!ExpectMap(n, "load.syn_flood",
                 {"loadgen", "target", "spoof_cidr", "rate_pps", "senders", "interface"})) {
    return;
  }
  SynFloodSpec f;
  f.pos = Pos(n);
  if (n["loadgen"]) {
    f.loadgen = Scalar(n["loadgen"], "loadgen").value_or("");
    loadgen_refs_.push_back({f.loadgen, Pos(n["loadgen"])});
  }
  if (!n["target"] && !spec.server) {
    Error(n,
          "load.syn_flood lacks \"target\" and the experiment has no server; expected "
          "\"target\" to be set");
  }
  if (!n["spoof_cidr"]) {
    Error(n, "load.syn_flood lacks \"spoof_cidr\"; expected it to be set");
  }
  // By default the flood hits the server's main listener.
  f.target = Templated{"{{server.endpoint}}", f.pos};
  if (n["target"]) f.target = Template(n["target"], "target").value_or(Templated{});
  if (n["spoof_cidr"]) f.spoof_cidr = Template(n["spoof_cidr"], "spoof_cidr").value_or(Templated{});
  if (n["rate_pps"]) f.rate_pps = Template(n["rate_pps"], "rate_pps").value_or(Templated{});
  if (n["senders"]) f.senders = Template(n["senders"], "senders").value_or(Templated{});
  if (n["interface"]) f.interface = Template(n["interface"], "interface").value_or(Templated{});
  spec.syn_flood = std::move(f);
}

void SpecParser::ParseRecord(const YAML::Node& n, ExperimentSpec& spec) {
  static const std::vector<std::string> kKinds = {"classes", "containers", "samples", "host_facts"};
  if (!n.IsSequence()) {
    Error(n,
          absl::StrCat("record is not a list; expected a list of ", absl::StrJoin(kKinds, ", ")));
    return;
  }
  for (const auto& item : n) {
    auto s = Scalar(item, "a record item");
    if (!s) continue;
    if (std::find(kKinds.begin(), kKinds.end(), *s) == kKinds.end()) {
      Error(item, absl::StrCat("record item \"", *s, "\" is unknown; expected one of ",
                               absl::StrJoin(kKinds, ", ")));
      continue;
    }
    spec.record.push_back(*s);
  }
}

void SpecParser::ParsePlots(const YAML::Node& n, ExperimentSpec& spec) {
  if (!n.IsSequence()) {
    Error(n, "plots is not a list; expected a list of {name, x, y, series, class|container}");
    return;
  }
  std::set<std::string> names;
  for (const auto& item : n) {
    if (!ExpectMap(item, "a plot",
                   {"name", "title", "x", "y", "series", "class", "container", "logscale_y"})) {
      continue;
    }
    PlotSpec p;
    p.pos = Pos(item);
    for (const char* key : {"name", "x", "y"}) {
      if (!item[key]) Error(item, absl::StrCat("a plot lacks \"", key, "\"; expected it set"));
    }
    if (item["name"]) p.name = Scalar(item["name"], "plot name").value_or("");
    if (item["title"]) p.title = Scalar(item["title"], "plot title").value_or("");
    if (item["x"]) p.x = Scalar(item["x"], "plot x").value_or("");
    if (item["y"]) p.y = Scalar(item["y"], "plot y").value_or("");
    if (item["series"]) p.series = Scalar(item["series"], "plot series").value_or("");
    if (item["class"]) p.class_name = Scalar(item["class"], "plot class").value_or("");
    if (item["container"]) p.container = Scalar(item["container"], "plot container").value_or("");
    if (item["logscale_y"]) {
      auto s = Scalar(item["logscale_y"], "logscale_y").value_or("false");
      p.logscale_y = s == "true" || s == "yes" || s == "on";
    }
    if (!p.name.empty() && (!IsIdentifier(p.name) || !names.insert(p.name).second)) {
      Error(item["name"], absl::StrCat("plot name \"", p.name,
                                       "\" is invalid or repeated; expected a unique "
                                       "[A-Za-z0-9_-] name (it names the image files)"));
    }
    if (!p.x.empty() && spec.FindFactor(p.x) == nullptr) {
      Error(item["x"], absl::StrCat("plot x \"", p.x,
                                    "\" is not a factor; expected one of the "
                                    "factors"));
    }
    if (!p.series.empty() && spec.FindFactor(p.series) == nullptr) {
      Error(item["series"], absl::StrCat("plot series \"", p.series,
                                         "\" is not a factor; expected one of the factors"));
    }
    if (!p.y.empty()) {
      if (IsClassMetric(p.y)) {
        if (p.class_name.empty()) {
          Error(item, absl::StrCat("plot of class metric \"", p.y,
                                   "\" lacks \"class\"; expected a load class name"));
        }
      } else if (IsContainerMetric(p.y)) {
        if (p.container.empty()) {
          Error(item, absl::StrCat("plot of container metric \"", p.y,
                                   "\" lacks \"container\"; expected a container path"));
        }
      } else {
        Error(item["y"], absl::StrCat("plot y \"", p.y, "\" is not a metric; expected one of ",
                                      absl::StrJoin(ClassMetricNames(), ", "), ", ",
                                      absl::StrJoin(ContainerMetricNames(), ", ")));
      }
    }
    if (!p.class_name.empty()) {
      bool found = false;
      for (const auto& c : spec.load_classes) found |= c.name == p.class_name;
      if (!found) {
        Error(item["class"], absl::StrCat("plot class \"", p.class_name,
                                          "\" is not a load class; expected one of the "
                                          "load.classes names"));
      }
    }
    spec.plots.push_back(std::move(p));
  }
}

void SpecParser::ParseCompare(const YAML::Node& n, ExperimentSpec& spec) {
  if (!n.IsMap()) {
    Error(n, "compare is not a mapping; expected METRIC: {direction, min_effect}");
    return;
  }
  for (const auto& kv : n) {
    std::string metric = kv.first.Scalar();
    if (!IsClassMetric(metric) && !IsContainerMetric(metric) && !IsBenchmarkMetric(metric)) {
      Error(kv.first, absl::StrCat("compare names unknown metric \"", metric,
                                   "\"; expected one of ", absl::StrJoin(ClassMetricNames(), ", "),
                                   ", ", absl::StrJoin(ContainerMetricNames(), ", "), ", ",
                                   absl::StrJoin(BenchmarkMetricNames(), ", ")));
      continue;
    }
    if (!ExpectMap(kv.second, absl::StrCat("compare.", metric), {"direction", "min_effect"})) {
      continue;
    }
    MetricRule rule = DefaultRuleFor(metric);
    if (kv.second["direction"]) {
      auto d = Scalar(kv.second["direction"], "direction").value_or("");
      if (d == "higher") {
        rule.direction = Direction::kHigherIsBetter;
      } else if (d == "lower") {
        rule.direction = Direction::kLowerIsBetter;
      } else {
        Error(kv.second["direction"],
              absl::StrCat("direction \"", d, "\" is unknown; expected higher or lower"));
      }
    }
    if (kv.second["min_effect"]) {
      auto s = Scalar(kv.second["min_effect"], "min_effect").value_or("");
      auto f = ParseFraction(s, 10.0);
      if (!f.ok()) {
        Error(kv.second["min_effect"],
              absl::StrCat("min_effect: ", f.status().message(), " (e.g. \"5%\")"));
      } else {
        rule.min_effect = *f;
      }
    }
    spec.compare_rules[metric] = rule;
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

}  // namespace

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
  SpecParser parser(source_name, limits);
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
