// The YAML side of loadgen/workload.h: ParseWorkloadConfig and LoadWorkloadConfig turn a
// classes file into a rcbench.v1.Workload (ValidateWorkload, in workload.cc, checks it).

#include <yaml-cpp/yaml.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "common/yaml_fields.h"
#include "loadgen/workload.h"

namespace rcbench::loadgen {
namespace {

void SetDuration(int64_t ns, google::protobuf::Duration* d) {
  d->set_seconds(ns / 1'000'000'000);
  d->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

}  // namespace

namespace {

using yaml::Bad;
using yaml::CheckKeys;
using yaml::CheckList;

constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();

absl::StatusOr<uint32_t> U32(const std::string& file, const YAML::Node& n, const std::string& key) {
  RCBENCH_ASSIGN_OR_RETURN(uint64_t v, yaml::Uint(file, n, key, 0, kU32Max));
  return static_cast<uint32_t>(v);
}

absl::Status SetYamlDuration(const std::string& file, const YAML::Node& n, const std::string& key,
                             google::protobuf::Duration* d) {
  RCBENCH_ASSIGN_OR_RETURN(std::chrono::nanoseconds ns, yaml::Duration(file, n, key));
  SetDuration(ns.count(), d);
  return absl::OkStatus();
}

absl::Status ParseClass(const std::string& file, const YAML::Node& n, const std::string& where,
                        rcbench::v1::HttpClass* c) {
  RCBENCH_RETURN_IF_ERROR(
      CheckKeys(file, n, where,
                {"name", "target", "source_addresses", "paths", "mode", "clients", "sockets",
                 "connect_timeout", "rate", "arrival", "max_connections", "connections",
                 "keep_alive", "response_timeout", "linger_zero", "headers", "threads"}));
  if (n["name"]) {
    RCBENCH_ASSIGN_OR_RETURN(*c->mutable_name(), yaml::Scalar(file, n["name"], where + ".name"));
  }
  if (n["target"]) {
    RCBENCH_ASSIGN_OR_RETURN(*c->mutable_target(),
                             yaml::Scalar(file, n["target"], where + ".target"));
  }
  if (n["source_addresses"]) {
    const std::string key = where + ".source_addresses";
    RCBENCH_RETURN_IF_ERROR(CheckList(file, n["source_addresses"], key, kMaxSourceAddresses));
    for (const auto& s : n["source_addresses"]) {
      RCBENCH_ASSIGN_OR_RETURN(*c->add_source_addresses(), yaml::Scalar(file, s, key));
    }
  }
  if (n["paths"]) {
    const std::string key = where + ".paths";
    RCBENCH_RETURN_IF_ERROR(CheckList(file, n["paths"], key, kMaxPathsPerClass));
    for (const auto& p : n["paths"]) {
      auto* rp = c->add_paths();
      rp->set_weight(1);
      if (p.IsScalar()) {
        rp->set_path(p.Scalar());
        continue;
      }
      RCBENCH_RETURN_IF_ERROR(CheckKeys(file, p, key, {"path", "weight"}));
      if (p["path"]) {
        RCBENCH_ASSIGN_OR_RETURN(*rp->mutable_path(), yaml::Scalar(file, p["path"], key + ".path"));
      }
      if (p["weight"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t weight, U32(file, p["weight"], key + ".weight"));
        rp->set_weight(weight);
      }
    }
  }
  if (!n["mode"]) {
    return Bad(file, n, where + ".mode", absl::StrCat("missing; expected ", kLoadModeNames));
  }
  RCBENCH_ASSIGN_OR_RETURN(const std::string mode_name,
                           yaml::Scalar(file, n["mode"], where + ".mode"));
  const std::optional<LoadMode> mode = ParseLoadMode(mode_name);
  if (!mode) {
    return Bad(
        file, n["mode"], where + ".mode",
        absl::StrCat("\"", mode_name, "\" is not a load class mode; expected ", kLoadModeNames));
  }
  // Keys of another mode are ignored, as in the protocol's oneof.
  switch (*mode) {
    case LoadMode::kSClient: {
      auto* m = c->mutable_sclient();
      m->set_clients(1);
      m->set_sockets_per_client(1);
      if (n["clients"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["clients"], where + ".clients"));
        m->set_clients(v);
      }
      if (n["sockets"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["sockets"], where + ".sockets"));
        m->set_sockets_per_client(v);
      }
      if (n["connect_timeout"]) {
        RCBENCH_RETURN_IF_ERROR(SetYamlDuration(
            file, n["connect_timeout"], where + ".connect_timeout", m->mutable_connect_timeout()));
      }
      break;
    }
    case LoadMode::kOpenLoop: {
      auto* m = c->mutable_open_loop();
      if (n["rate"]) {
        RCBENCH_ASSIGN_OR_RETURN(
            const double rate,
            yaml::Double(file, n["rate"], where + ".rate", 0, std::numeric_limits<double>::max()));
        m->set_rate_rps(rate);
      }
      std::string arrival = "constant";
      if (n["arrival"]) {
        RCBENCH_ASSIGN_OR_RETURN(arrival, yaml::Scalar(file, n["arrival"], where + ".arrival"));
      }
      if (arrival == "poisson") {
        m->set_arrival(rcbench::v1::OpenLoopMode::ARRIVAL_POISSON);
      } else if (arrival == "constant") {
        m->set_arrival(rcbench::v1::OpenLoopMode::ARRIVAL_CONSTANT);
      } else {
        return Bad(file, n["arrival"], where + ".arrival",
                   absl::StrCat("\"", arrival, "\" is not constant or poisson"));
      }
      if (n["max_connections"]) {
        RCBENCH_ASSIGN_OR_RETURN(const uint32_t v,
                                 U32(file, n["max_connections"], where + ".max_connections"));
        m->set_max_connections(v);
      }
      break;
    }
    case LoadMode::kClosedLoop: {
      uint32_t connections = 1;
      if (n["connections"]) {
        RCBENCH_ASSIGN_OR_RETURN(connections, U32(file, n["connections"], where + ".connections"));
      }
      c->mutable_closed_loop()->set_connections(connections);
      break;
    }
  }
  for (auto [key, set] : {std::pair<const char*, void (rcbench::v1::HttpClass::*)(bool)>{
                              "keep_alive", &rcbench::v1::HttpClass::set_keep_alive},
                          {"linger_zero", &rcbench::v1::HttpClass::set_linger_zero}}) {
    if (!n[key]) continue;
    RCBENCH_ASSIGN_OR_RETURN(const bool b, yaml::Bool(file, n[key], absl::StrCat(where, ".", key)));
    (c->*set)(b);
  }
  if (n["threads"]) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["threads"], where + ".threads"));
    c->set_threads(v);
  }
  if (n["response_timeout"]) {
    RCBENCH_RETURN_IF_ERROR(SetYamlDuration(
        file, n["response_timeout"], where + ".response_timeout", c->mutable_response_timeout()));
  }
  if (n["headers"]) {
    const std::string key = where + ".headers";
    RCBENCH_RETURN_IF_ERROR(CheckList(file, n["headers"], key, kMaxHeadersPerClass));
    for (const auto& h : n["headers"]) {
      RCBENCH_ASSIGN_OR_RETURN(*c->add_headers(), yaml::Scalar(file, h, key));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<rcbench::v1::Workload> ParseConfig(const YAML::Node& root, const std::string& file,
                                                  AllowList* allow) {
  rcbench::v1::Workload w;
  if (root.IsNull()) return w;  // an empty file; ValidateWorkload asks for a duration
  RCBENCH_RETURN_IF_ERROR(CheckKeys(file, root, "the top level",
                                    {"allow_targets", "duration", "threads", "io", "io_batch",
                                     "io_batch_wait", "stats_interval", "classes", "syn_flood"}));
  if (root["allow_targets"]) {
    RCBENCH_RETURN_IF_ERROR(
        CheckList(file, root["allow_targets"], "allow_targets", kMaxAllowTargets));
    for (const auto& p : root["allow_targets"]) {
      RCBENCH_ASSIGN_OR_RETURN(const std::string prefix, yaml::Scalar(file, p, "allow_targets"));
      if (allow != nullptr) {
        absl::Status s = allow->Add(prefix);
        if (!s.ok()) return Bad(file, p, "allow_targets", s.message());
      }
    }
  }
  if (root["duration"]) {
    RCBENCH_RETURN_IF_ERROR(
        SetYamlDuration(file, root["duration"], "duration", w.mutable_duration()));
  }
  if (root["threads"]) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, root["threads"], "threads"));
    w.set_threads(v);
  }
  if (root["io"]) {
    RCBENCH_ASSIGN_OR_RETURN(const std::string name, yaml::Scalar(file, root["io"], "io"));
    const std::optional<IoEngine> io = ParseIoEngine(name);
    if (!io) {
      return yaml::Error(
          file, root["io"],
          absl::StrCat("io: \"", name, "\" is not an I/O engine (", kIoEngineNames, ")"));
    }
    w.set_io_engine(ToProto(*io));
  }
  if (root["io_batch"]) {
    RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, root["io_batch"], "io_batch"));
    w.set_io_batch(v);
  }
  if (root["io_batch_wait"]) {
    RCBENCH_RETURN_IF_ERROR(
        SetYamlDuration(file, root["io_batch_wait"], "io_batch_wait", w.mutable_io_batch_wait()));
  }
  if (root["stats_interval"]) {
    RCBENCH_RETURN_IF_ERROR(SetYamlDuration(file, root["stats_interval"], "stats_interval",
                                            w.mutable_stats_interval()));
  }
  if (root["classes"]) {
    RCBENCH_RETURN_IF_ERROR(CheckList(file, root["classes"], "classes", kMaxHttpClasses));
    int i = 0;
    for (const auto& n : root["classes"]) {
      RCBENCH_RETURN_IF_ERROR(
          ParseClass(file, n, absl::StrCat("classes[", i++, "]"), w.add_http_classes()));
    }
  }
  if (root["syn_flood"]) {
    const auto& n = root["syn_flood"];
    RCBENCH_RETURN_IF_ERROR(
        CheckKeys(file, n, "syn_flood", {"target", "spoof", "rate", "senders", "interface"}));
    auto* f = w.mutable_syn_flood();
    if (n["target"]) {
      RCBENCH_ASSIGN_OR_RETURN(*f->mutable_target(),
                               yaml::Scalar(file, n["target"], "syn_flood.target"));
    }
    if (n["spoof"]) {
      RCBENCH_ASSIGN_OR_RETURN(*f->mutable_spoof_cidr(),
                               yaml::Scalar(file, n["spoof"], "syn_flood.spoof"));
    }
    if (n["rate"]) {
      RCBENCH_ASSIGN_OR_RETURN(const double rate, yaml::Double(file, n["rate"], "syn_flood.rate", 0,
                                                               std::numeric_limits<double>::max()));
      f->set_rate_pps(rate);
    }
    if (n["senders"]) {
      RCBENCH_ASSIGN_OR_RETURN(const uint32_t v, U32(file, n["senders"], "syn_flood.senders"));
      f->set_senders(v);
    }
    if (n["interface"]) {
      RCBENCH_ASSIGN_OR_RETURN(*f->mutable_interface(),
                               yaml::Scalar(file, n["interface"], "syn_flood.interface"));
    }
  }
  return w;
}

}  // namespace

absl::StatusOr<rcbench::v1::Workload> ParseWorkloadConfig(absl::string_view text,
                                                          const std::string& name,
                                                          AllowList* allow) {
  RCBENCH_ASSIGN_OR_RETURN(const YAML::Node root, yaml::Load(text, name));
  try {
    return ParseConfig(root, name, allow);
  } catch (const YAML::Exception& e) {  // e.g. a recursive alias walked by an iterator
    return absl::InvalidArgumentError(
        absl::StrCat(yaml::Where(name, e.mark.line + 1, e.mark.column + 1), ": ", e.msg));
  }
}

absl::StatusOr<rcbench::v1::Workload> LoadWorkloadConfig(const std::string& path,
                                                         AllowList* allow) {
  RCBENCH_ASSIGN_OR_RETURN(const std::string text,
                           yaml::ReadFile(path, "config file", kMaxConfigBytes));
  return ParseWorkloadConfig(text, path, allow);
}

}  // namespace rcbench::loadgen
