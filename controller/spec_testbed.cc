#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/sysctl_store.h"
#include "common/cidr.h"
#include "controller/spec_parser.h"

namespace rcbench::controller::spec_internal {

std::vector<HostEndpoint> SpecParser::ParseEndpoints(const YAML::Node& n, absl::string_view what) {
  std::vector<HostEndpoint> out;
  if (!CheckList(n, what, "a list of {name, address}")) return out;
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

void SpecParser::ParseContainers(const YAML::Node& n, ExperimentSpec& spec) {
  if (!CheckList(n, "containers", "a list of {path, cpu_weight, ...}")) return;
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
  if (!CheckMapping(n, "sysctls", "NAME: VALUE")) return;
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

}  // namespace rcbench::controller::spec_internal
