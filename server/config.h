#pragma once

// rcbench-server's configuration and its command-line parser. Value types; thread-compatible.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cidr.h"
#include "common/logging.h"

namespace rcbench::server {

enum class Arch { kEvent, kThreads };

// A priority class: connections whose source lies in `prefixes`, or that arrive on one of the
// class's own listeners, belong to it. Unmatched connections go to the class "default".
struct ClassConfig {
  std::string name;
  std::vector<Cidr> prefixes;
  // Share of the CPU relative to the other classes (event ordering and kernel cpu weight).
  uint32_t weight = 100;
  // Strict tier: ready work of a higher priority is dispatched before any lower one's.
  int priority = 0;
  // Fraction of the loop's recent time this class gets even while higher priorities are busy.
  double min_share = 0;
};

// `--listen-class NAME=ADDR`: a listen socket whose connections all belong to class NAME.
struct ClassListener {
  std::string class_name;
  std::string address;
};

// `--vhost NAME=DOCROOT,share=N`: requests whose Host (without port) is NAME are served from
// DOCROOT and charged to the virtual server's own container, which has CPU share N.
struct VhostConfig {
  std::string name;
  std::string docroot;
  uint32_t share = 100;
};

// `--cgi NAME=PATH`: the program PATH answers /cgi-bin/NAME[/path-info].
struct CgiProgram {
  std::string name;
  std::string path;
};

struct ServerConfig {
  bool help = false;
  std::string listen = "127.0.0.1:8080";
  std::vector<ClassListener> class_listeners;
  std::string metrics_listen;  // empty: /metrics only on the HTTP port
  std::string ready_file;
  Arch arch = Arch::kEvent;
  int threads = 2;  // threads arch: workers (per class with containers on)
  bool containers = false;
  // Containers off only: dispatch ready connections by class priority in user space, as the
  // paper's baseline server did with select().
  bool favour_high = false;
  std::vector<ClassConfig> classes;  // always ends with "default" after parsing
  std::vector<Cidr> syn_filter;
  std::vector<VhostConfig> vhosts;
  std::string docroot;  // empty: a generated 1 KiB /index.html
  size_t generated_file_bytes = 1024;
  // CPU time burned on the handling thread before each static response is sent (0: none):
  // makes a fast machine serve like a slower one (the paper's Alpha took ~340 us of CPU per
  // 1 KB request), so a generator on the same host can drive the server past saturation.
  std::chrono::nanoseconds request_cpu{0};
  std::vector<CgiProgram> cgi;
  std::optional<double> cgi_cpu_limit;  // fraction of one CPU
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds cgi_timeout = std::chrono::seconds(30);
  // CGI children alive at once; past it a CGI request gets 503 with Retry-After.
  int max_cgi_children = 64;
  uint32_t max_header_bytes = 8192;
  uint64_t max_body_bytes = 1 << 20;
  uint64_t max_cgi_output_bytes = 16 << 20;
  // The docroot cache: all cached files together (more fails the start), and one file (larger
  // files are served from disk instead).
  uint64_t max_cache_bytes = 256 << 20;
  uint64_t max_cached_file_bytes = 64 << 20;
  int backlog = 4096;
  // How long a listener stops accepting after accept() ran out of descriptors (EMFILE/ENFILE).
  std::chrono::nanoseconds accept_backoff = std::chrono::milliseconds(100);
  std::string container_root = "rcbench";
  bool die_with_parent = false;
  LogLevel log_level = LogLevel::kInfo;

  // Index of the class named `name`, or -1.
  int ClassIndex(absl::string_view name) const;
};

// Parses argv (argv[0] is the program). INVALID_ARGUMENT names the flag and what was expected.
// `default_cgi_dir`, if not empty, is where the bundled rcbench-cgi-spin is looked for; it is
// registered as /cgi-bin/spin unless --cgi spin=... overrides it.
absl::StatusOr<ServerConfig> ParseServerFlags(int argc, const char* const* argv,
                                              absl::string_view default_cgi_dir = "");

// Class spec: "NAME=ITEM,ITEM..." where an item is a prefix, weight=N, priority=N or
// min-share=PCT.
absl::StatusOr<ClassConfig> ParseClassSpec(absl::string_view spec);
// Vhost spec: "NAME=DOCROOT[,share=N]".
absl::StatusOr<VhostConfig> ParseVhostSpec(absl::string_view spec);

// The --help text.
std::string ServerUsage();

}  // namespace rcbench::server
