#include "agent/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "agent/container_path.h"
#include "agent/sysctl_store.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "common/yaml_fields.h"

namespace rcbench::agent {
namespace {

using yaml::Bad;
using yaml::Bool;
using yaml::CheckKeys;
using yaml::Scalar;
using yaml::StringList;

absl::Status ParseServices(absl::string_view origin, const YAML::Node& node, AgentConfig* cfg) {
  if (!node.IsMap()) return Bad(origin, node, "services", "expected a mapping of name -> service");
  for (const auto& kv : node) {
    std::string name = kv.first.as<std::string>();
    std::string key = absl::StrCat("services.", name);
    if (name.empty() || name.size() > 64 ||
        name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
            std::string::npos) {
      return Bad(origin, kv.first, key, "service names use [A-Za-z0-9_.-], at most 64");
    }
    const YAML::Node& s = kv.second;
    RCBENCH_RETURN_IF_ERROR(
        CheckKeys(origin, s, key, {"command", "args", "container", "ready_file_flag", "env"}));
    ServiceSpec spec;
    spec.name = name;
    if (!s["command"]) return Bad(origin, s, key, "missing 'command'");
    RCBENCH_ASSIGN_OR_RETURN(spec.command, StringList(origin, s["command"], key + ".command"));
    if (spec.command.empty() || spec.command[0].empty() || spec.command[0][0] != '/') {
      return Bad(origin, s["command"], key + ".command",
                 "must be a non-empty list starting with an absolute path");
    }
    if (s["args"]) {
      RCBENCH_ASSIGN_OR_RETURN(spec.allowed_args, StringList(origin, s["args"], key + ".args"));
      for (const std::string& pattern : spec.allowed_args) {
        if (pattern.size() > kMaxArgPatternBytes) {
          return Bad(origin, s["args"], key + ".args",
                     absl::StrCat("a pattern of ", pattern.size(), " bytes; the limit is ",
                                  kMaxArgPatternBytes));
        }
        try {
          std::regex re(pattern);
        } catch (const std::regex_error& e) {
          return Bad(origin, s["args"], key + ".args",
                     absl::StrCat("bad regular expression '", pattern, "': ", e.what()));
        }
      }
    }
    spec.container = name;
    if (s["container"]) {
      RCBENCH_ASSIGN_OR_RETURN(spec.container, Scalar(origin, s["container"], key + ".container"));
    }
    absl::Status cs = ValidateContainerPath(spec.container);
    if (!cs.ok()) return Bad(origin, s, key + ".container", cs.message());
    if (s["ready_file_flag"]) {
      RCBENCH_ASSIGN_OR_RETURN(spec.ready_file_flag,
                               Scalar(origin, s["ready_file_flag"], key + ".ready_file_flag"));
    }
    if (s["env"]) {
      if (!s["env"].IsMap()) return Bad(origin, s["env"], key + ".env", "expected a mapping");
      for (const auto& e : s["env"]) {
        RCBENCH_ASSIGN_OR_RETURN(spec.env[e.first.as<std::string>()],
                                 Scalar(origin, e.second, key + ".env"));
      }
    }
    cfg->services[name] = std::move(spec);
  }
  return absl::OkStatus();
}

absl::Status ParseRoot(absl::string_view origin, const YAML::Node& root, AgentConfig* cfg) {
  if (root.IsNull()) return absl::OkStatus();  // an empty file: all defaults
  RCBENCH_RETURN_IF_ERROR(CheckKeys(origin, root, "the top level",
                                    {"root",
                                     "interval",
                                     "retention",
                                     "max_retained_bytes",
                                     "host",
                                     "sockets",
                                     "sockets_interval",
                                     "io",
                                     "psi",
                                     "metrics_max_containers",
                                     "fact_sysctls",
                                     "sysctls",
                                     "services",
                                     "tls",
                                     "token_file",
                                     "read_token_file",
                                     "insecure_plaintext",
                                     "max_service_arg_bytes",
                                     "max_service_args",
                                     "max_open_cgroup_files"}));
  if (root["root"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->root, Scalar(origin, root["root"], "root"));
    if (cfg->root != "/" && !ValidateContainerPath(cfg->root).ok()) {
      return Bad(origin, root["root"], "root", "expected a subtree name like 'rcbench' or '/'");
    }
  }
  for (auto [key, field] :
       {std::pair<const char*, std::chrono::nanoseconds*>{"interval", &cfg->interval},
        {"retention", &cfg->retention},
        {"sockets_interval", &cfg->sockets_interval}}) {
    if (!root[key]) continue;
    RCBENCH_ASSIGN_OR_RETURN(*field, yaml::Duration(origin, root[key], key));
  }
  absl::Status is = ValidateInterval(cfg->interval);
  if (!is.ok()) return Bad(origin, root["interval"], "interval", is.message());
  if (cfg->retention < cfg->interval) {
    return Bad(origin, root["retention"], "retention", "must be at least one interval");
  }
  if (root["max_retained_bytes"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->max_retained_bytes,
                             yaml::Size(origin, root["max_retained_bytes"], "max_retained_bytes"));
  }
  if (root["host"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->host, Scalar(origin, root["host"], "host"));
  }
  if (root["sockets"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->sockets, Bool(origin, root["sockets"], "sockets"));
  }
  if (root["io"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->io, Bool(origin, root["io"], "io"));
  }
  if (root["psi"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->psi, Bool(origin, root["psi"], "psi"));
  }
  uint64_t arg_bytes = cfg->service_limits.max_arg_bytes;
  uint64_t args = cfg->service_limits.max_args;
  if (root["metrics_max_containers"]) {
    RCBENCH_ASSIGN_OR_RETURN(const uint64_t v, yaml::Uint(origin, root["metrics_max_containers"],
                                                          "metrics_max_containers", 1, UINT32_MAX));
    cfg->metrics_max_containers = static_cast<uint32_t>(v);
  }
  // Upper bounds keep a typo from disabling the limit the key exists for.
  for (auto [key, field, lo, hi] :
       {std::tuple<const char*, uint64_t*, uint64_t, uint64_t>{"max_service_arg_bytes", &arg_bytes,
                                                               1, 1ull << 20},
        {"max_service_args", &args, 0, 4096},
        {"max_open_cgroup_files", &cfg->max_open_cgroup_files, 0, 1ull << 24}}) {
    if (!root[key]) continue;
    RCBENCH_ASSIGN_OR_RETURN(*field, yaml::Uint(origin, root[key], key, lo, hi));
  }
  cfg->service_limits.max_arg_bytes = static_cast<size_t>(arg_bytes);
  cfg->service_limits.max_args = static_cast<size_t>(args);
  if (root["fact_sysctls"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->fact_sysctls,
                             StringList(origin, root["fact_sysctls"], "fact_sysctls"));
  }
  if (root["sysctls"]) {
    const YAML::Node& s = root["sysctls"];
    RCBENCH_RETURN_IF_ERROR(CheckKeys(origin, s, "sysctls", {"allow"}));
    if (s["allow"]) {
      RCBENCH_ASSIGN_OR_RETURN(cfg->sysctl_allow, StringList(origin, s["allow"], "sysctls.allow"));
    }
    for (const std::string& name : cfg->sysctl_allow) {
      absl::Status ns = ValidateSysctlName(name);
      if (!ns.ok()) return Bad(origin, s["allow"], "sysctls.allow", ns.message());
    }
  }
  if (root["services"]) RCBENCH_RETURN_IF_ERROR(ParseServices(origin, root["services"], cfg));
  if (root["tls"]) {
    const YAML::Node& t = root["tls"];
    RCBENCH_RETURN_IF_ERROR(CheckKeys(origin, t, "tls", {"cert", "key", "ca"}));
    for (auto [key, field] :
         {std::pair<const char*, std::string*>{"cert", &cfg->security.tls.cert_file},
          {"key", &cfg->security.tls.key_file},
          {"ca", &cfg->security.tls.ca_file}}) {
      if (t[key]) {
        RCBENCH_ASSIGN_OR_RETURN(*field, Scalar(origin, t[key], absl::StrCat("tls.", key)));
      }
    }
  }
  if (root["token_file"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->security.token_file,
                             Scalar(origin, root["token_file"], "token_file"));
  }
  if (root["read_token_file"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->security.read_token_file,
                             Scalar(origin, root["read_token_file"], "read_token_file"));
  }
  if (root["insecure_plaintext"]) {
    RCBENCH_ASSIGN_OR_RETURN(cfg->security.insecure_plaintext,
                             Bool(origin, root["insecure_plaintext"], "insecure_plaintext"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateInterval(std::chrono::nanoseconds interval) {
  if (interval < kMinInterval || interval > std::chrono::hours(1)) {
    return absl::InvalidArgumentError(absl::StrCat("interval ", FormatDuration(interval),
                                                   " is outside the supported range 10ms..1h"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AgentConfig> ParseAgentConfig(absl::string_view yaml, absl::string_view origin) {
  AgentConfig cfg;
  RCBENCH_ASSIGN_OR_RETURN(const YAML::Node root, yaml::Load(yaml, origin));
  try {
    RCBENCH_RETURN_IF_ERROR(ParseRoot(origin, root, &cfg));
  } catch (const YAML::Exception& e) {  // yaml-cpp's conversions, beside the calls above
    return absl::InvalidArgumentError(
        absl::StrCat(yaml::Where(origin, e.mark.line + 1, e.mark.column + 1), ": ", e.msg));
  }
  return cfg;
}

absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path) {
  RCBENCH_ASSIGN_OR_RETURN(const std::string text, yaml::ReadFile(path, "config file"));
  return ParseAgentConfig(text, path);
}

}  // namespace rcbench::agent
