#include "controller/spec_render.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/container_path.h"
#include "agent/sysctl_store.h"
#include "common/flags.h"
#include "common/load_vocabulary.h"
#include "common/status_macros.h"
#include "controller/matrix.h"
#include "controller/netns_topology.h"

namespace rcbench::controller {
namespace {

absl::Status At(const SourcePos& pos, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(pos.line, ":", pos.column, ": ", message));
}

absl::StatusOr<std::string> Render(const Templated& t, const TemplateVars& vars) {
  auto r = RenderTemplate(t.text, vars);
  if (!r.ok()) return At(t.pos, r.status().message());
  return r;
}

absl::StatusOr<uint64_t> RenderUint(const Templated& t, const TemplateVars& vars,
                                    absl::string_view what, uint64_t min, uint64_t max) {
  RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(t, vars));
  uint64_t v;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(s), &v) || v < min || v > max) {
    return At(t.pos,
              absl::StrCat(what, " is \"", s, "\"; expected an integer in [", min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<double> RenderDouble(const Templated& t, const TemplateVars& vars,
                                    absl::string_view what) {
  RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(t, vars));
  double v;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(s), &v) || !std::isfinite(v) || v < 0) {
    return At(t.pos, absl::StrCat(what, " is \"", s, "\"; expected a non-negative number"));
  }
  return v;
}

absl::StatusOr<std::chrono::nanoseconds> RenderDuration(const Templated& t,
                                                        const TemplateVars& vars,
                                                        absl::string_view what) {
  RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(t, vars));
  auto d = ParseDuration(s);
  if (!d.ok()) return At(t.pos, absl::StrCat(what, ": ", d.status().message()));
  return *d;
}

absl::StatusOr<bool> RenderBool(const Templated& t, const TemplateVars& vars,
                                absl::string_view what) {
  RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(t, vars));
  std::string l = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s));
  if (l == "true" || l == "on" || l == "yes" || l == "1") return true;
  if (l == "false" || l == "off" || l == "no" || l == "0") return false;
  return At(t.pos, absl::StrCat(what, " is \"", s, "\"; expected true/false (or on/off)"));
}

// The controller's own narrower alphabet, on top of the agent's rules: paths also name report
// files and metric labels.
bool PortableContainerPath(absl::string_view p) {
  for (char c : p) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/')) return false;
  }
  return true;
}

// What SysctlStore::Set (agent/sysctl_store.h) accepts as a value.
constexpr size_t kMaxSysctlValueBytes = 4096;

}  // namespace

void SetDuration(std::chrono::nanoseconds d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(d.count() % 1'000'000'000));
}

std::string ServerAgentName(const ExperimentSpec& spec) {
  if (spec.local_mode()) return kLocalHost;
  if (spec.server && !spec.server->agent.empty()) return spec.server->agent;
  return spec.agents.empty() ? kLocalHost : spec.agents.front().name;
}

std::string DefaultLoadGenName(const ExperimentSpec& spec) {
  if (spec.local_mode() || spec.loadgens.empty()) return kLocalHost;
  return spec.loadgens.front().name;
}

TemplateVars PlaceholderRuntimeVars(const ExperimentSpec& spec) {
  TemplateVars vars;
  vars["run.repetition"] = "1";
  vars["run.id"] = "run";
  // A benchmark run has no server, so no server.* facts.
  if (spec.benchmark) return vars;
  std::string addr = spec.server ? spec.server->listen_address : "127.0.0.1";
  if (spec.local_mode()) {
    addr = spec.network == LocalNetwork::kNamespaces ? kNetnsServerAddress : "127.0.0.1";
  }
  vars["server.address"] = addr;
  vars["server.http"] = absl::StrCat("http://", addr, ":8080");
  vars["server.endpoint"] = absl::StrCat(addr, ":8080");
  vars["server.metrics"] = absl::StrCat(addr, ":9090");
  if (spec.server) {
    for (const auto& c : spec.server->classes) {
      if (!absl::StrContains(c.text, "{{")) {
        vars["server.http." + c.text] = absl::StrCat("http://", addr, ":8081");
        vars["server.endpoint." + c.text] = absl::StrCat(addr, ":8081");
      }
    }
    // Listeners chosen per run may be any load class's.
    if (spec.server->templated_classes) {
      for (const auto& c : spec.load_classes) {
        vars["server.http." + c.name] = absl::StrCat("http://", addr, ":8081");
        vars["server.endpoint." + c.name] = absl::StrCat(addr, ":8081");
      }
    }
  }
  return vars;
}

namespace {

// Renders every argument; one that renders empty is left out, so a factor level "" means
// "no flag".
absl::StatusOr<std::vector<std::string>> RenderArgs(const std::vector<Templated>& args,
                                                    const TemplateVars& vars) {
  std::vector<std::string> out;
  for (const Templated& arg : args) {
    RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(arg, vars));
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RenderServerArgs(const ExperimentSpec& spec,
                                                          const TemplateVars& vars) {
  if (!spec.server) return std::vector<std::string>();
  return RenderArgs(spec.server->args, vars);
}

absl::StatusOr<std::vector<std::string>> RenderServerClasses(const ExperimentSpec& spec,
                                                             const TemplateVars& vars) {
  std::vector<std::string> out;
  if (!spec.server) return out;
  for (const Templated& t : spec.server->classes) {
    RCBENCH_ASSIGN_OR_RETURN(std::string c, Render(t, vars));
    if (c.empty()) continue;  // this run has no such listener
    if (!IsIdentifier(c, 32) || std::find(out.begin(), out.end(), c) != out.end()) {
      return At(t.pos, absl::StrCat("server class \"", c,
                                    "\" is invalid or repeated; expected unique names of "
                                    "[A-Za-z0-9_-]"));
    }
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> RenderBenchmarkArgs(const ExperimentSpec& spec,
                                                             const TemplateVars& vars) {
  if (!spec.benchmark) return std::vector<std::string>();
  return RenderArgs(spec.benchmark->args, vars);
}

absl::StatusOr<std::vector<RenderedContainer>> RenderContainers(const ExperimentSpec& spec,
                                                                const TemplateVars& vars) {
  std::vector<RenderedContainer> out;
  for (const ContainerSpec& c : spec.containers) {
    RenderedContainer r;
    r.agent = c.agent.empty() ? ServerAgentName(spec) : c.agent;
    RCBENCH_ASSIGN_OR_RETURN(r.path, Render(c.path, vars));
    // The agent's rules (which are rc's), so that a path it would refuse is refused here.
    if (absl::Status s = agent::ValidateContainerPath(r.path); !s.ok()) {
      return At(c.path.pos,
                absl::StrCat("container path \"", absl::CHexEscape(r.path),
                             "\" is invalid: ", s.message(),
                             "; expected a relative path of names separated by '/', none of them "
                             "\"..\" or starting with a cgroup file prefix such as \"cpu.\""));
    }
    if (!PortableContainerPath(r.path)) {
      return At(c.path.pos, absl::StrCat("container path \"", absl::CHexEscape(r.path),
                                         "\" is invalid; expected a relative path of "
                                         "[A-Za-z0-9_.-] names separated by '/'"));
    }
    for (const auto& [key, value] : c.attributes) {
      if (key == "cpu_weight") {
        RCBENCH_ASSIGN_OR_RETURN(uint64_t w, RenderUint(value, vars, "cpu_weight", 1, 10000));
        r.attributes.set_cpu_weight(static_cast<uint32_t>(w));
      } else if (key == "cpu_limit") {
        RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(value, vars));
        auto f = ParseFraction(s, 4096);
        if (!f.ok()) {
          return At(value.pos, absl::StrCat("cpu_limit: ", f.status().message(),
                                            " (cores, e.g. \"0.3\" or \"30%\"; 0 = no limit)"));
        }
        r.attributes.set_cpu_limit_cores(*f);
      } else if (key == "cpu_period") {
        RCBENCH_ASSIGN_OR_RETURN(auto d, RenderDuration(value, vars, "cpu_period"));
        int64_t us = d.count() / 1000;
        if (us < 1000 || us > 1000000) {
          return At(value.pos, "cpu_period must lie in [1ms, 1s]; expected e.g. \"100ms\"");
        }
        r.attributes.set_cpu_period_us(static_cast<uint32_t>(us));
      } else if (key == "memory_limit") {
        RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(value, vars));
        auto size = ParseSize(s);
        if (!size.ok())
          return At(value.pos, absl::StrCat("memory_limit: ", size.status().message()));
        r.attributes.set_memory_limit_bytes(*size);
      } else if (key == "pids_limit") {
        RCBENCH_ASSIGN_OR_RETURN(uint64_t p, RenderUint(value, vars, "pids_limit", 0, 4194304));
        r.attributes.set_pids_limit(p);
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> RenderSysctls(const ExperimentSpec& spec,
                                                                 const TemplateVars& vars) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : spec.sysctls) {
    if (absl::Status s = agent::ValidateSysctlName(name); !s.ok())
      return At(value.pos, s.message());
    RCBENCH_ASSIGN_OR_RETURN(std::string v, Render(value, vars));
    if (v.size() > kMaxSysctlValueBytes ||
        v.find_first_of(std::string("\n\r\0", 3)) != std::string::npos) {
      return At(value.pos,
                absl::StrCat("sysctl ", name, " value \"", absl::CHexEscape(v.substr(0, 80)),
                             v.size() > 80 ? "...\"" : "\"", " (", v.size(),
                             " bytes) is not one line of at most ", kMaxSysctlValueBytes,
                             " bytes; expected a single-line value"));
    }
    out[name] = std::move(v);
  }
  return out;
}

absl::StatusOr<std::map<std::string, rcbench::v1::Workload>> RenderWorkloads(
    const ExperimentSpec& spec, const TemplateVars& vars, std::chrono::nanoseconds duration) {
  std::map<std::string, rcbench::v1::Workload> out;
  auto workload_for = [&](const std::string& loadgen) -> rcbench::v1::Workload& {
    std::string name = loadgen.empty() ? DefaultLoadGenName(spec) : loadgen;
    auto [it, inserted] = out.try_emplace(name);
    if (inserted) {
      SetDuration(duration, it->second.mutable_duration());
      SetDuration(spec.stats_interval, it->second.mutable_stats_interval());
    }
    return it->second;
  };
  uint64_t threads = 0;
  if (spec.load_threads) {
    RCBENCH_ASSIGN_OR_RETURN(threads, RenderUint(*spec.load_threads, vars, "threads", 1, 256));
  }
  for (const LoadClassSpec& c : spec.load_classes) {
    rcbench::v1::Workload& w = workload_for(c.loadgen);
    rcbench::v1::HttpClass* h = w.add_http_classes();
    h->set_name(c.name);
    std::string target;
    auto per_class = vars.find("server.http." + c.name);
    if (c.auto_target && per_class != vars.end()) {
      target = per_class->second;
    } else {
      RCBENCH_ASSIGN_OR_RETURN(target, Render(c.target, vars));
    }
    h->set_target(target);
    for (const Templated& s : c.source_addresses) {
      RCBENCH_ASSIGN_OR_RETURN(*h->add_source_addresses(), Render(s, vars));
    }
    for (const Templated& s : c.headers) {
      RCBENCH_ASSIGN_OR_RETURN(*h->add_headers(), Render(s, vars));
    }
    for (const Templated& p : c.paths) {
      RCBENCH_ASSIGN_OR_RETURN(std::string s, Render(p, vars));
      std::vector<std::string> parts = absl::StrSplit(s, ' ', absl::SkipEmpty());
      if (parts.empty() || parts[0].front() != '/' || parts.size() > 2) {
        return At(p.pos, absl::StrCat("path \"", s, "\"; expected \"/PATH\" or \"/PATH WEIGHT\""));
      }
      auto* rp = h->add_paths();
      rp->set_path(parts[0]);
      uint32_t weight = 1;
      if (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &weight) || weight == 0)) {
        return At(p.pos, absl::StrCat("path weight \"", parts[1], "\"; expected an integer > 0"));
      }
      rp->set_weight(weight);
    }
    auto param = [&](const char* key) -> const Templated* {
      auto it = c.params.find(key);
      return it == c.params.end() ? nullptr : &it->second;
    };
    if (c.mode == "sclient") {
      auto* m = h->mutable_sclient();
      if (const Templated* t = param("clients")) {
        RCBENCH_ASSIGN_OR_RETURN(uint64_t v, RenderUint(*t, vars, "clients", 0, 100000));
        m->set_clients(static_cast<uint32_t>(v));
      }
      m->set_sockets_per_client(1);
      if (const Templated* t = param("sockets_per_client")) {
        RCBENCH_ASSIGN_OR_RETURN(uint64_t v, RenderUint(*t, vars, "sockets_per_client", 1, 10000));
        m->set_sockets_per_client(static_cast<uint32_t>(v));
      }
      if (const Templated* t = param("connect_timeout")) {
        RCBENCH_ASSIGN_OR_RETURN(auto d, RenderDuration(*t, vars, "connect_timeout"));
        SetDuration(d, m->mutable_connect_timeout());
      }
    } else if (c.mode == "open_loop") {
      auto* m = h->mutable_open_loop();
      if (const Templated* t = param("rate")) {
        RCBENCH_ASSIGN_OR_RETURN(double v, RenderDouble(*t, vars, "rate"));
        m->set_rate_rps(v);
      }
      if (const Templated* t = param("arrival")) {
        RCBENCH_ASSIGN_OR_RETURN(std::string a, Render(*t, vars));
        if (a == "constant") {
          m->set_arrival(rcbench::v1::OpenLoopMode::ARRIVAL_CONSTANT);
        } else if (a == "poisson") {
          m->set_arrival(rcbench::v1::OpenLoopMode::ARRIVAL_POISSON);
        } else {
          return At(t->pos, absl::StrCat("arrival \"", a, "\"; expected constant or poisson"));
        }
      }
      if (const Templated* t = param("max_connections")) {
        RCBENCH_ASSIGN_OR_RETURN(uint64_t v, RenderUint(*t, vars, "max_connections", 1, 1000000));
        m->set_max_connections(static_cast<uint32_t>(v));
      }
    } else {
      auto* m = h->mutable_closed_loop();
      if (const Templated* t = param("connections")) {
        RCBENCH_ASSIGN_OR_RETURN(uint64_t v, RenderUint(*t, vars, "connections", 1, 100000));
        m->set_connections(static_cast<uint32_t>(v));
      }
    }
    if (const Templated* t = param("keep_alive")) {
      RCBENCH_ASSIGN_OR_RETURN(bool b, RenderBool(*t, vars, "keep_alive"));
      h->set_keep_alive(b);
    }
    if (const Templated* t = param("threads")) {
      RCBENCH_ASSIGN_OR_RETURN(uint64_t v, RenderUint(*t, vars, "threads", 0, 64));
      h->set_threads(static_cast<uint32_t>(v));
    }
    if (const Templated* t = param("linger_zero")) {
      RCBENCH_ASSIGN_OR_RETURN(bool b, RenderBool(*t, vars, "linger_zero"));
      h->set_linger_zero(b);
    }
    if (const Templated* t = param("response_timeout")) {
      RCBENCH_ASSIGN_OR_RETURN(auto d, RenderDuration(*t, vars, "response_timeout"));
      SetDuration(d, h->mutable_response_timeout());
    }
  }
  if (spec.syn_flood) {
    const SynFloodSpec& f = *spec.syn_flood;
    // rate_pps "max" (or no rate_pps) floods as fast as possible (the proto's 0); 0 means no
    // flood in this run, so a rate factor can start at zero.
    double rate_pps = 0;
    bool flood = true;
    if (!f.rate_pps.text.empty()) {
      RCBENCH_ASSIGN_OR_RETURN(std::string r, Render(f.rate_pps, vars));
      if (absl::AsciiStrToLower(absl::StripAsciiWhitespace(r)) != "max") {
        RCBENCH_ASSIGN_OR_RETURN(rate_pps, RenderDouble(f.rate_pps, vars, "rate_pps"));
        flood = rate_pps > 0;
      }
    }
    rcbench::v1::SynFlood scratch;
    auto* s = flood ? workload_for(f.loadgen).mutable_syn_flood() : &scratch;
    RCBENCH_ASSIGN_OR_RETURN(*s->mutable_target(), Render(f.target, vars));
    RCBENCH_ASSIGN_OR_RETURN(*s->mutable_spoof_cidr(), Render(f.spoof_cidr, vars));
    s->set_rate_pps(rate_pps);
    if (!f.senders.text.empty()) {
      RCBENCH_ASSIGN_OR_RETURN(uint64_t v, RenderUint(f.senders, vars, "senders", 1, 64));
      s->set_senders(static_cast<uint32_t>(v));
    }
    if (!f.interface.text.empty()) {
      RCBENCH_ASSIGN_OR_RETURN(*s->mutable_interface(), Render(f.interface, vars));
    }
  }
  if (threads > 0) {
    for (auto& [name, w] : out) w.set_threads(static_cast<uint32_t>(threads));
  }
  if (spec.load_io) {
    RCBENCH_ASSIGN_OR_RETURN(std::string io, Render(*spec.load_io, vars));
    const std::optional<IoEngine> parsed = ParseIoEngine(io);
    if (!parsed) {
      return absl::InvalidArgumentError(
          absl::StrCat("load.io: \"", io, "\" is not an I/O engine (", kIoEngineNames, ")"));
    }
    const rcbench::v1::IoEngine engine = *parsed == IoEngine::kIoUring
                                             ? rcbench::v1::IO_ENGINE_IO_URING
                                             : rcbench::v1::IO_ENGINE_EPOLL;
    for (auto& [name, w] : out) w.set_io_engine(engine);
  }
  if (spec.load_io_batch) {
    RCBENCH_ASSIGN_OR_RETURN(uint64_t batch,
                             RenderUint(*spec.load_io_batch, vars, "load.io_batch", 1, 1024));
    for (auto& [name, w] : out) w.set_io_batch(static_cast<uint32_t>(batch));
  }
  if (spec.load_io_batch_wait) {
    RCBENCH_ASSIGN_OR_RETURN(auto wait,
                             RenderDuration(*spec.load_io_batch_wait, vars, "load.io_batch_wait"));
    for (auto& [name, w] : out) SetDuration(wait, w.mutable_io_batch_wait());
  }
  return out;
}

absl::StatusOr<std::string> RenderSpoofPrefix(const ExperimentSpec& spec,
                                              const TemplateVars& vars) {
  if (!spec.syn_flood) return std::string();
  RCBENCH_ASSIGN_OR_RETURN(std::string prefix, Render(spec.syn_flood->spoof_cidr, vars));
  if (spec.local_mode() && spec.network == LocalNetwork::kNamespaces) {
    absl::Status s = CheckSpoofPrefix(prefix);
    if (!s.ok()) return At(spec.syn_flood->spoof_cidr.pos, s.message());
  }
  return prefix;
}

std::vector<std::string> AllSpoofPrefixes(const ExperimentSpec& spec) {
  std::vector<std::string> out;
  if (!spec.syn_flood) return out;
  for (const auto& combo : ExpandCombinations(spec)) {
    TemplateVars vars = PlaceholderRuntimeVars(spec);
    for (const auto& [k, v] : combo) vars[k] = v;
    auto p = RenderSpoofPrefix(spec, vars);
    if (p.ok() && !p->empty() && std::find(out.begin(), out.end(), *p) == out.end()) {
      out.push_back(*p);
    }
  }
  return out;
}

}  // namespace rcbench::controller
