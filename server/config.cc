#include "server/config.h"

#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "common/status_macros.h"

namespace rcbench::server {
namespace {

absl::Status FlagError(absl::string_view flag, absl::string_view value, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=\"", value, "\": expected ", what));
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<uint32_t> ParsePositive(absl::string_view key, absl::string_view text,
                                       uint32_t max) {
  uint32_t v;
  if (!absl::SimpleAtoi(text, &v) || v == 0 || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, "=\"", text, "\": expected an integer in [1, ", max, "]"));
  }
  return v;
}

absl::StatusOr<std::chrono::nanoseconds> ParsePositiveDuration(absl::string_view flag,
                                                               absl::string_view value) {
  auto d = ParseDuration(value);
  if (!d.ok() || d->count() <= 0) return FlagError(flag, value, "a positive duration, e.g. 10s");
  return *d;
}

}  // namespace

int ServerConfig::ClassIndex(absl::string_view name) const {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<ClassConfig> ParseClassSpec(absl::string_view spec) {
  std::pair<absl::string_view, absl::string_view> kv =
      absl::StrSplit(spec, absl::MaxSplits('=', 1));
  ClassConfig c;
  c.name = std::string(kv.first);
  if (!ValidName(c.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("class name \"", kv.first, "\": expected [A-Za-z0-9_-]{1,32}"));
  }
  if (kv.second.empty()) return c;
  for (absl::string_view item : absl::StrSplit(kv.second, ',')) {
    if (absl::ConsumePrefix(&item, "weight=")) {
      RCBENCH_ASSIGN_OR_RETURN(c.weight, ParsePositive("weight", item, 10000));
    } else if (absl::ConsumePrefix(&item, "min-share=")) {
      auto f = ParseFraction(item);
      if (!f.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("min-share=\"", item, "\": expected a percentage, e.g. 20%"));
      }
      c.min_share = *f;
    } else if (absl::ConsumePrefix(&item, "priority=")) {
      if (!absl::SimpleAtoi(item, &c.priority) || c.priority < -100 || c.priority > 100) {
        return absl::InvalidArgumentError(
            absl::StrCat("priority=\"", item, "\": expected an integer in [-100, 100]"));
      }
    } else {
      auto cidr = Cidr::Parse(item);
      if (!cidr.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("class item \"", item, "\": expected a prefix, weight=N or priority=N (",
                         cidr.status().message(), ")"));
      }
      c.prefixes.push_back(*cidr);
    }
  }
  return c;
}

absl::StatusOr<VhostConfig> ParseVhostSpec(absl::string_view spec) {
  std::pair<absl::string_view, absl::string_view> kv =
      absl::StrSplit(spec, absl::MaxSplits('=', 1));
  VhostConfig v;
  v.name = std::string(kv.first);
  if (v.name.empty() || v.name.find_first_of("/: ") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("vhost name \"", kv.first, "\": expected a host name"));
  }
  std::vector<absl::string_view> items = absl::StrSplit(kv.second, ',');
  if (kv.second.empty() && spec.find('=') == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("vhost \"", spec, "\": expected NAME=[DOCROOT][,share=N]"));
  }
  v.docroot = std::string(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    absl::string_view item = items[i];
    if (!absl::ConsumePrefix(&item, "share=")) {
      return absl::InvalidArgumentError(
          absl::StrCat("vhost item \"", items[i], "\": expected share=N"));
    }
    RCBENCH_ASSIGN_OR_RETURN(v.share, ParsePositive("share", item, 10000));
  }
  return v;
}

std::string ServerUsage() {
  return R"(usage: rcbench-server [flags]

The reference HTTP/1.1 server under test, with resource containers on or off.

  --listen ADDR              HTTP listener (default 127.0.0.1:8080; port 0 = ephemeral)
  --listen-class NAME=ADDR   an extra listener whose connections belong to class NAME
  --metrics-listen ADDR      separate Prometheus endpoint (/metrics is also on the HTTP port)
  --ready-file PATH          written once listening: pid=, http=, http.<class>=, metrics=
  --arch event|threads       one thread and one event loop, or a pool of worker loops
  --threads N                threads arch: worker loops (per class with --containers on)
  --containers on|off        resource containers (default off: the unmodified system)
  --favour-high              containers off: dispatch by class priority in user space
  --class NAME=ITEMS         ITEMS: prefixes, weight=N (1..10000), priority=N (-100..100),
                             min-share=PCT (CPU share kept while higher priorities are busy)
  --syn-filter CIDR          drop SYNs from CIDR at the listeners (classic BPF socket filter)
  --vhost NAME=DOCROOT[,share=N]  virtual server selected by Host, its own container
  --docroot DIR              files served from memory (default: a generated 1 KiB /index.html)
  --file-size SIZE           size of the generated /index.html (default 1KiB)
  --max-cache-size SIZE      docroot bytes held in memory (default 256MiB; more: exit 1)
  --max-cached-file-size SIZE  larger files are served from disk, not cached (default 64MiB)
  --request-cpu D            CPU burned per static response, to emulate a slower server
                             (default 0; e.g. 300us: about the paper's per-request cost)
  --cgi NAME=PATH            CGI/1.1 program answering /cgi-bin/NAME (spin is bundled)
  --cgi-cpu-limit PCT        containers on: CPU limit of the CGI children's container, e.g. 30%
  --cgi-timeout D            CGI run time limit (default 30s; then 504)
  --max-cgi-children N       CGI children at once (default 64; past it 503 + Retry-After)
  --max-cgi-output-size SIZE  a CGI program's output limit (default 16MiB; past it 502)
  --idle-timeout D           keep-alive idle limit (default 60s)
  --request-timeout D        time to receive a whole request or send a response (default 10s)
  --max-header-size SIZE     larger request heads get 431 (default 8KiB)
  --max-body-size SIZE       larger bodies get 413 (default 1MiB)
  --backlog N                listen backlog (default 4096)
  --accept-backoff D         pause accepting this long when out of descriptors (default 100ms)
  --container-root NAME      subtree of the kernel containers (default rcbench)
  --die-with-parent          exit when the parent process dies
  --log-level LEVEL          debug|info|warning|error
  --help
)";
}

namespace {

constexpr FlagSpec kServerFlags[] = {
    {"help", 'h', false},
    {"favour-high", '\0', false},
    {"die-with-parent", '\0', false},
    {"listen", '\0', true, false, "HOST:PORT"},
    {"metrics-listen", '\0', true, false, "HOST:PORT"},
    {"listen-class", '\0', true, true, "NAME=HOST:PORT"},
    {"ready-file", '\0', true, false, "PATH"},
    {"arch", '\0', true, false, "event or threads"},
    {"threads", '\0', true, false, "N"},
    {"containers", '\0', true, false, "on or off"},
    {"class", '\0', true, true, "NAME=ITEMS"},
    {"syn-filter", '\0', true, true, "CIDR"},
    {"vhost", '\0', true, true, "NAME=DOCROOT[,share=N]"},
    {"docroot", '\0', true, false, "DIR"},
    {"file-size", '\0', true, false, "SIZE"},
    {"max-cache-size", '\0', true, false, "SIZE"},
    {"max-cached-file-size", '\0', true, false, "SIZE"},
    {"request-cpu", '\0', true, false, "a duration"},
    {"cgi", '\0', true, true, "NAME=PATH"},
    {"cgi-cpu-limit", '\0', true, false, "PCT"},
    {"cgi-timeout", '\0', true, false, "a duration"},
    {"max-cgi-children", '\0', true, false, "N"},
    {"max-cgi-output-size", '\0', true, false, "SIZE"},
    {"idle-timeout", '\0', true, false, "a duration"},
    {"request-timeout", '\0', true, false, "a duration"},
    {"max-header-size", '\0', true, false, "SIZE"},
    {"max-body-size", '\0', true, false, "SIZE"},
    {"backlog", '\0', true, false, "N"},
    {"accept-backoff", '\0', true, false, "a duration"},
    {"container-root", '\0', true, false, "NAME"},
    {"log-level", '\0', true, false, "LEVEL"},
};

// Applies one value flag to `c`.
absl::Status ApplyFlag(const std::string& flag, const std::string& value, ServerConfig& c) {
  if (flag == "listen" || flag == "metrics-listen") {
    if (!ParseHostPort(value).ok()) return FlagError(flag, value, "HOST:PORT");
    (flag == "listen" ? c.listen : c.metrics_listen) = value;
  } else if (flag == "listen-class") {
    std::pair<std::string, std::string> kv = absl::StrSplit(value, absl::MaxSplits('=', 1));
    if (!ValidName(kv.first) || !ParseHostPort(kv.second).ok()) {
      return FlagError(flag, value, "NAME=HOST:PORT");
    }
    c.class_listeners.push_back({kv.first, kv.second});
  } else if (flag == "ready-file") {
    c.ready_file = value;
  } else if (flag == "arch") {
    if (value == "event") {
      c.arch = Arch::kEvent;
    } else if (value == "threads") {
      c.arch = Arch::kThreads;
    } else {
      return FlagError(flag, value, "event or threads");
    }
  } else if (flag == "threads") {
    auto n = ParsePositive("threads", value, 256);
    if (!n.ok()) return FlagError(flag, value, "an integer in [1, 256]");
    c.threads = static_cast<int>(*n);
  } else if (flag == "containers") {
    if (value != "on" && value != "off") return FlagError(flag, value, "on or off");
    c.containers = value == "on";
  } else if (flag == "class") {
    auto cls = ParseClassSpec(value);
    if (!cls.ok()) return FlagError(flag, value, cls.status().message());
    if (c.ClassIndex(cls->name) >= 0) return FlagError(flag, value, "a class name not yet used");
    c.classes.push_back(*std::move(cls));
  } else if (flag == "syn-filter") {
    auto list = ParseCidrList(value);
    if (!list.ok()) return FlagError(flag, value, list.status().message());
    c.syn_filter.insert(c.syn_filter.end(), list->begin(), list->end());
  } else if (flag == "vhost") {
    auto v = ParseVhostSpec(value);
    if (!v.ok()) return FlagError(flag, value, v.status().message());
    c.vhosts.push_back(*std::move(v));
  } else if (flag == "docroot") {
    c.docroot = value;
  } else if (flag == "file-size") {
    auto n = ParseSize(value);
    if (!n.ok() || *n > (64u << 20)) return FlagError(flag, value, "a size up to 64MiB");
    c.generated_file_bytes = *n;
  } else if (flag == "max-cache-size" || flag == "max-cached-file-size") {
    auto n = ParseSize(value);
    if (!n.ok()) return FlagError(flag, value, "a size, e.g. 64MiB");
    (flag == "max-cache-size" ? c.max_cache_bytes : c.max_cached_file_bytes) = *n;
  } else if (flag == "cgi") {
    std::pair<std::string, std::string> kv = absl::StrSplit(value, absl::MaxSplits('=', 1));
    if (!ValidName(kv.first) || kv.second.empty()) return FlagError(flag, value, "NAME=PATH");
    c.cgi.push_back({kv.first, kv.second});
  } else if (flag == "cgi-cpu-limit") {
    auto f = ParseFraction(value, 64.0);
    if (!f.ok() || *f <= 0) return FlagError(flag, value, "a positive percentage, e.g. 30%");
    c.cgi_cpu_limit = *f;
  } else if (flag == "max-cgi-output-size") {
    auto n = ParseSize(value);
    if (!n.ok() || *n == 0) return FlagError(flag, value, "a positive size, e.g. 16MiB");
    c.max_cgi_output_bytes = *n;
  } else if (flag == "max-cgi-children") {
    auto n = ParsePositive("max-cgi-children", value, 65536);
    if (!n.ok()) return FlagError(flag, value, "an integer in [1, 65536]");
    c.max_cgi_children = static_cast<int>(*n);
  } else if (flag == "cgi-timeout") {
    RCBENCH_ASSIGN_OR_RETURN(c.cgi_timeout, ParsePositiveDuration(flag, value));
  } else if (flag == "request-cpu") {
    auto d = ParseDuration(value);
    if (!d.ok() || d->count() < 0 || *d > std::chrono::seconds(1)) {
      return FlagError(flag, value, "a duration from 0 to 1s, e.g. 300us");
    }
    c.request_cpu = *d;
  } else if (flag == "idle-timeout") {
    RCBENCH_ASSIGN_OR_RETURN(c.idle_timeout, ParsePositiveDuration(flag, value));
  } else if (flag == "request-timeout") {
    RCBENCH_ASSIGN_OR_RETURN(c.request_timeout, ParsePositiveDuration(flag, value));
  } else if (flag == "max-header-size") {
    auto n = ParseSize(value);
    if (!n.ok() || *n < 256 || *n > (1u << 20)) {
      return FlagError(flag, value, "a size in [256B, 1MiB]");
    }
    c.max_header_bytes = static_cast<uint32_t>(*n);
  } else if (flag == "max-body-size") {
    auto n = ParseSize(value);
    if (!n.ok()) return FlagError(flag, value, "a size, e.g. 1MiB");
    c.max_body_bytes = *n;
  } else if (flag == "backlog") {
    auto n = ParsePositive("backlog", value, 1 << 20);
    if (!n.ok()) return FlagError(flag, value, "a positive integer");
    c.backlog = static_cast<int>(*n);
  } else if (flag == "accept-backoff") {
    RCBENCH_ASSIGN_OR_RETURN(c.accept_backoff, ParsePositiveDuration(flag, value));
  } else if (flag == "container-root") {
    if (!ValidName(value)) return FlagError(flag, value, "[A-Za-z0-9_-]{1,32}");
    c.container_root = value;
  } else if (flag == "log-level") {
    auto level = ParseLogLevel(value);
    if (!level.ok()) return FlagError(flag, value, "debug, info, warning or error");
    c.log_level = *level;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerFlags(int argc, const char* const* argv,
                                              absl::string_view default_cgi_dir) {
  ServerConfig c;
  RCBENCH_ASSIGN_OR_RETURN(ParsedFlags args, ParseFlags(argc, argv, 1, kServerFlags));
  if (args.Has("help")) {
    c.help = true;
    return c;
  }
  if (!args.positional().empty() || !args.rest().empty()) {
    const std::string& a = args.positional().empty() ? args.rest()[0] : args.positional()[0];
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", a, "\""));
  }
  c.favour_high = args.Has("favour-high");
  c.die_with_parent = args.Has("die-with-parent");
  for (const FlagSpec& f : kServerFlags) {
    if (!f.takes_value) continue;
    for (const std::string& value : args.All(f.name)) {
      RCBENCH_RETURN_IF_ERROR(ApplyFlag(f.name, value, c));
    }
  }
  for (const ClassListener& l : c.class_listeners) {
    if (c.ClassIndex(l.class_name) < 0) {
      ClassConfig cls;
      cls.name = l.class_name;
      c.classes.push_back(cls);
    }
  }
  if (c.ClassIndex("default") < 0) {
    ClassConfig d;
    d.name = "default";
    c.classes.push_back(d);
  }
  if (c.classes.size() > 32) return absl::InvalidArgumentError("--class: at most 32 classes");
  if (c.favour_high && c.containers) {
    return absl::InvalidArgumentError("--favour-high: only with --containers off");
  }
  if (!c.containers && (!c.class_listeners.empty() || !c.syn_filter.empty())) {
    // The unmodified system has one listen socket and no kernel filter.
    return absl::InvalidArgumentError("--listen-class and --syn-filter: only with --containers on");
  }
  if (c.cgi_cpu_limit && !c.containers) {
    return absl::InvalidArgumentError("--cgi-cpu-limit: needs --containers on");
  }
  bool has_spin = false;
  for (const CgiProgram& p : c.cgi) has_spin |= p.name == "spin";
  if (!has_spin && !default_cgi_dir.empty()) {
    std::string spin = absl::StrCat(default_cgi_dir, "/rcbench-cgi-spin");
    if (access(spin.c_str(), X_OK) == 0) c.cgi.push_back({"spin", spin});
  }
  return c;
}

}  // namespace rcbench::server
