#include "controller/controller_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/yaml_fields.h"
#include "controller/matrix.h"
#include "controller/spec_render.h"

namespace rcbench::controller {
namespace {

// Longer arguments are refused before a regular expression sees them (std::regex recurses
// per character).
constexpr size_t kMaxArgChars = 4096;

using yaml::Bad;
using yaml::CheckKeys;
using yaml::Scalar;

absl::Status ParsePrograms(absl::string_view origin, const YAML::Node& n,
                           std::map<std::string, ProgramRule>& out) {
  if (!n.IsMap()) return Bad(origin, n, "programs", "expected a mapping of NAME: {path, args}");
  out.clear();
  for (const auto& kv : n) {
    const std::string name = kv.first.as<std::string>();
    const std::string key = absl::StrCat("programs.", name);
    if (!IsIdentifier(name, 64)) {
      return Bad(origin, kv.first, key, "expected a program name of [A-Za-z0-9_-]");
    }
    RCBENCH_RETURN_IF_ERROR(CheckKeys(origin, kv.second, key, {"path", "args"}));
    ProgramRule rule;
    if (!kv.second["path"]) return Bad(origin, kv.second, key, "needs a path");
    RCBENCH_ASSIGN_OR_RETURN(rule.path, Scalar(origin, kv.second["path"], key + ".path"));
    if (rule.path.empty() || rule.path[0] != '/') {
      return Bad(origin, kv.second["path"], key + ".path", "expected an absolute path");
    }
    if (const YAML::Node& a = kv.second["args"]) {
      if (!a.IsSequence()) return Bad(origin, a, key + ".args", "expected a list of patterns");
      for (const auto& p : a) {
        RCBENCH_ASSIGN_OR_RETURN(std::string pattern, Scalar(origin, p, key + ".args"));
        try {
          std::regex re(pattern);
        } catch (const std::regex_error& e) {
          return Bad(
              origin, p, key + ".args",
              absl::StrCat("pattern \"", pattern, "\" is not a regular expression: ", e.what()));
        }
        rule.allowed_args.push_back(std::move(pattern));
      }
    }
    out[name] = std::move(rule);
  }
  return absl::OkStatus();
}

absl::Status CheckArgs(const std::string& program, const ProgramRule& rule,
                       const std::vector<std::string>& args, const SourcePos& pos,
                       absl::string_view source) {
  for (const std::string& arg : args) {
    bool ok = false;
    if (arg.size() <= kMaxArgChars) {
      for (const std::string& pattern : rule.allowed_args) {
        if (std::regex_match(arg, std::regex(pattern))) {
          ok = true;
          break;
        }
      }
    }
    if (!ok) {
      return absl::PermissionDeniedError(
          absl::StrCat(source, ":", pos.line, ":", pos.column, ": argument \"", arg.substr(0, 200),
                       "\" of program ", program,
                       " is not allowed for submitted specs; expected one matching programs.",
                       program, ".args in the controller's --config"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::map<std::string, ProgramRule> DefaultPrograms(const std::string& bin_dir) {
  // A flag's value in the same argument or the next one; never starting with '-'.
  const std::string value = "[A-Za-z0-9_.:,%/=+@][A-Za-z0-9_.:,%/=+@-]*";
  std::map<std::string, ProgramRule> out;
  out["rcbench-server"] = {
      bin_dir + "/rcbench-server",
      {absl::StrCat("--(arch|threads|containers|class|listen-class|syn-filter|vhost|file-size|"
                    "cgi-cpu-limit|cgi-timeout|request-cpu|idle-timeout|request-timeout|"
                    "max-header-size|max-body-size|backlog|log-level)(=",
                    value, ")?"),
       "--favour-high", value}};
  out["rc_primitives"] = {
      bin_dir + "/rc_primitives",
      {absl::StrCat("--benchmark_(min_time|repetitions|filter|report_aggregates_only|"
                    "display_aggregates_only|enable_random_interleaving)=",
                    value),
       "--backend=[a-z0-9]+"}};
  return out;
}

absl::StatusOr<ControllerConfig> ParseControllerConfig(absl::string_view yaml,
                                                       absl::string_view origin,
                                                       const std::string& bin_dir) {
  ControllerConfig c;
  c.programs = DefaultPrograms(bin_dir);
  RCBENCH_ASSIGN_OR_RETURN(const YAML::Node root, yaml::Load(yaml, origin));
  try {
    if (root.IsNull()) return c;
    RCBENCH_RETURN_IF_ERROR(
        CheckKeys(origin, root, "the top level",
                  {"tls", "token_file", "read_token_file", "insecure_plaintext", "programs"}));
    if (const YAML::Node& t = root["tls"]) {
      RCBENCH_RETURN_IF_ERROR(CheckKeys(origin, t, "tls", {"cert", "key", "ca"}));
      if (t["cert"]) {
        RCBENCH_ASSIGN_OR_RETURN(c.security.tls.cert_file, Scalar(origin, t["cert"], "tls.cert"));
      }
      if (t["key"]) {
        RCBENCH_ASSIGN_OR_RETURN(c.security.tls.key_file, Scalar(origin, t["key"], "tls.key"));
      }
      if (t["ca"]) {
        RCBENCH_ASSIGN_OR_RETURN(c.security.tls.ca_file, Scalar(origin, t["ca"], "tls.ca"));
      }
    }
    if (root["token_file"]) {
      RCBENCH_ASSIGN_OR_RETURN(c.security.token_file,
                               Scalar(origin, root["token_file"], "token_file"));
    }
    if (root["read_token_file"]) {
      RCBENCH_ASSIGN_OR_RETURN(c.security.read_token_file,
                               Scalar(origin, root["read_token_file"], "read_token_file"));
    }
    if (const YAML::Node& p = root["insecure_plaintext"]) {
      bool b = false;
      if (!p.IsScalar() || !YAML::convert<bool>::decode(p, b)) {
        return Bad(origin, p, "insecure_plaintext", "expected true or false");
      }
      c.security.insecure_plaintext = b;
    }
    if (root["programs"]) {
      RCBENCH_RETURN_IF_ERROR(ParsePrograms(origin, root["programs"], c.programs));
    }
  } catch (const YAML::Exception& e) {  // yaml-cpp's conversions, beside the calls above
    return absl::InvalidArgumentError(
        absl::StrCat(yaml::Where(origin, e.mark.line + 1, e.mark.column + 1), ": ", e.msg));
  }
  return c;
}

absl::StatusOr<ControllerConfig> LoadControllerConfig(const std::string& path,
                                                      const std::string& bin_dir) {
  if (path.empty()) return ParseControllerConfig("", "(defaults)", bin_dir);
  RCBENCH_ASSIGN_OR_RETURN(const std::string text, yaml::ReadFile(path, "config file"));
  return ParseControllerConfig(text, path, bin_dir);
}

absl::Status AdmitSubmittedSpec(const ExperimentSpec& spec,
                                const std::map<std::string, ProgramRule>& programs) {
  const std::string& src = spec.source_name;
  for (const auto* hosts : {&spec.agents, &spec.loadgens}) {
    for (const HostEndpoint& h : *hosts) {
      if (h.tls.enabled() || !h.token_file.empty()) {
        return absl::PermissionDeniedError(absl::StrCat(
            src, ":", h.pos.line, ":", h.pos.column, ": host ", h.name,
            " names credential files (ca, cert, key or token_file); a submitted spec may not: "
            "the controller presents its own (--config tls and token_file)"));
      }
    }
  }
  // Run-time variables get stand-in values: they are addresses the controller makes.
  const TemplateVars runtime = {{"server.http", "http://127.0.0.1:1"},
                                {"server.address", "127.0.0.1"},
                                {"server.metrics", "127.0.0.1:1"}};
  const auto combos = ExpandCombinations(spec);
  using Render =
      absl::StatusOr<std::vector<std::string>> (*)(const ExperimentSpec&, const TemplateVars&);
  // The program must be on the list, by name, and every run's rendered arguments allowed.
  auto admit = [&](const std::string& binary, const SourcePos& pos, const SourcePos& args_pos,
                   absl::string_view key, Render render) -> absl::Status {
    auto it = programs.find(binary);
    if (binary.find('/') != std::string::npos || it == programs.end()) {
      std::vector<std::string> names;
      for (const auto& [n, r] : programs) names.push_back(n);
      return absl::PermissionDeniedError(absl::StrCat(
          src, ":", pos.line, ":", pos.column, ": ", key, " \"", binary,
          "\" is not on the controller's program list; a submitted spec may name only one of: ",
          absl::StrJoin(names, ", "), " (programs: in the controller's --config)"));
    }
    for (const auto& combo : combos) {
      TemplateVars vars = runtime;
      vars.insert(combo.begin(), combo.end());
      RCBENCH_ASSIGN_OR_RETURN(std::vector<std::string> args, render(spec, vars));
      RCBENCH_RETURN_IF_ERROR(CheckArgs(binary, it->second, args, args_pos, src));
    }
    return absl::OkStatus();
  };
  if (spec.server && spec.local_mode()) {
    RCBENCH_RETURN_IF_ERROR(
        admit(spec.server->binary, {1, 1},
              spec.server->args.empty() ? SourcePos{1, 1} : spec.server->args[0].pos,
              "server.binary", &RenderServerArgs));
  }
  if (spec.benchmark) {
    RCBENCH_RETURN_IF_ERROR(admit(spec.benchmark->binary, spec.benchmark->pos, spec.benchmark->pos,
                                  "benchmark.binary", &RenderBenchmarkArgs));
  }
  return absl::OkStatus();
}

}  // namespace rcbench::controller
