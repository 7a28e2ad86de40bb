#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/load_vocabulary.h"
#include "controller/spec_parser.h"

namespace rcbench::controller::spec_internal {

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
  if (n["classes"] && CheckList(n["classes"], "load.classes", "a list of load classes")) {
    for (const auto& item : n["classes"]) ParseLoadClass(item, spec);
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

}  // namespace rcbench::controller::spec_internal
