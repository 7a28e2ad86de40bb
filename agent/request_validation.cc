#include "agent/request_validation.h"

#include <cmath>
#include <regex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/container_path.h"
#include "common/status_macros.h"

namespace rcbench::agent {
namespace {

// Names in errors are cut short: they come from the network.
std::string Quoted(absl::string_view s) {
  return s.size() > 64 ? absl::StrCat("'", s.substr(0, 64), "...'") : absl::StrCat("'", s, "'");
}

}  // namespace

absl::Status ValidateContainerAttributes(const rcbench::v1::ContainerAttributes& a,
                                         absl::string_view field) {
  if (a.has_cpu_weight() && (a.cpu_weight() < 1 || a.cpu_weight() > 10000)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".cpu_weight: ", a.cpu_weight(), " is outside 1..10000"));
  }
  if (a.has_cpu_limit_cores() && !(std::isfinite(a.cpu_limit_cores()) && a.cpu_limit_cores() >= 0 &&
                                   a.cpu_limit_cores() <= 4096)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".cpu_limit_cores: ", a.cpu_limit_cores(),
                                                   " is outside 0..4096 (0 removes the limit)"));
  }
  if (a.has_cpu_period_us() && (a.cpu_period_us() < 1000 || a.cpu_period_us() > 1000000)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".cpu_period_us: ", a.cpu_period_us(), " is outside 1000..1000000"));
  }
  if (a.has_memory_limit_bytes() && a.memory_limit_bytes() != 0 &&
      a.memory_limit_bytes() < kMinMemoryLimitBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".memory_limit_bytes: ", a.memory_limit_bytes(), " is below the minimum of ",
        kMinMemoryLimitBytes, " bytes (1 MiB); 0 removes the limit"));
  }
  if (a.has_pids_limit() && a.pids_limit() > kMaxPidsLimit) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".pids_limit: ", a.pids_limit(),
                                                   " is above the kernel's maximum of ",
                                                   kMaxPidsLimit, " (0 removes the limit)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateOwner(absl::string_view owner, absl::string_view field) {
  if (owner.size() > kMaxOwnerBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", owner.size(), " bytes; the limit is ", kMaxOwnerBytes));
  }
  for (size_t i = 0; i < owner.size(); ++i) {
    const char c = owner[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": character ", i, " of ",
                                                     Quoted(absl::CHexEscape(owner)),
                                                     " is not one of [A-Za-z0-9._:-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateReleaseOwnerRequest(const rcbench::v1::ReleaseOwnerRequest& req) {
  if (req.owner().empty()) return absl::InvalidArgumentError("owner: must not be empty");
  RCBENCH_RETURN_IF_ERROR(ValidateOwner(req.owner(), "owner"));
  if (req.has_grace() && (req.grace().seconds() < 0 || req.grace().nanos() < 0)) {
    return absl::InvalidArgumentError("grace: must not be negative");
  }
  return absl::OkStatus();
}

std::chrono::nanoseconds ReleaseGrace(const rcbench::v1::ReleaseOwnerRequest& req) {
  if (!req.has_grace()) return std::chrono::seconds(5);
  if (req.grace().seconds() >= kMaxReleaseGrace.count()) return kMaxReleaseGrace;
  return std::chrono::seconds(req.grace().seconds()) +
         std::chrono::nanoseconds(req.grace().nanos());
}

absl::Status ValidateCreateContainerRequest(const rcbench::v1::CreateContainerRequest& req) {
  RCBENCH_RETURN_IF_ERROR(ValidateContainerPath(req.path()));
  RCBENCH_RETURN_IF_ERROR(ValidateOwner(req.owner(), "owner"));
  return ValidateContainerAttributes(req.attributes(), "attributes");
}

absl::Status ValidateUpdateContainerRequest(const rcbench::v1::UpdateContainerRequest& req) {
  RCBENCH_RETURN_IF_ERROR(ValidateContainerPath(req.path()));
  return ValidateContainerAttributes(req.attributes(), "attributes");
}

absl::Status ValidateServiceArgs(const ServiceSpec& spec,
                                 const google::protobuf::RepeatedPtrField<std::string>& args,
                                 const ServiceLimits& limits) {
  if (static_cast<size_t>(args.size()) > limits.max_args) {
    return absl::InvalidArgumentError(absl::StrCat("args: ", args.size(),
                                                   " arguments; the limit is ", limits.max_args,
                                                   " (max_service_args)"));
  }
  for (int i = 0; i < args.size(); ++i) {
    if (args[i].size() > limits.max_arg_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("args[", i, "]: ", args[i].size(),
                                                     " bytes; the limit is ", limits.max_arg_bytes,
                                                     " bytes (max_service_arg_bytes)"));
    }
  }
  for (int i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    bool allowed = false;
    for (const std::string& pattern : spec.allowed_args) {
      try {
        if (std::regex_match(arg, std::regex(pattern))) {
          allowed = true;
          break;
        }
      } catch (const std::regex_error& e) {
        // error_complexity / error_stack: too costly to decide, so not allowed.
        return absl::InvalidArgumentError(
            absl::StrCat("args[", i, "]: cannot be matched against '", pattern, "': ", e.what()));
      }
    }
    if (!allowed) {
      return absl::PermissionDeniedError(absl::StrCat("args[", i, "]: argument ", Quoted(arg),
                                                      " is not allowed for service '", spec.name,
                                                      "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStartServiceRequest(const rcbench::v1::StartServiceRequest& req,
                                         const std::map<std::string, ServiceSpec>& specs,
                                         const ServiceLimits& limits) {
  auto it = specs.find(req.name());
  if (it == specs.end()) {
    return absl::NotFoundError(
        absl::StrCat("service ", Quoted(req.name()), " is not declared in the agent config"));
  }
  if (!req.container().empty()) {
    absl::Status s = ValidateContainerPath(req.container());
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("container: ", s.message()));
  }
  RCBENCH_RETURN_IF_ERROR(
      ValidateContainerAttributes(req.container_attributes(), "container_attributes"));
  RCBENCH_RETURN_IF_ERROR(ValidateOwner(req.owner(), "owner"));
  return ValidateServiceArgs(it->second, req.args(), limits);
}

absl::Status ValidateSubscribeUsageRequest(const rcbench::v1::SubscribeUsageRequest& req) {
  for (int i = 0; i < req.path_prefixes_size(); ++i) {
    absl::Status s = ValidateContainerPath(req.path_prefixes(i), /*allow_empty=*/true);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("path_prefixes[", i, "]: ", s.message()));
    }
  }
  return absl::OkStatus();
}

uint64_t ResumeAfter(uint64_t requested, uint64_t newest) {
  if (requested != 0 && requested <= newest) return requested;
  return newest > 0 ? newest - 1 : 0;
}

}  // namespace rcbench::agent
