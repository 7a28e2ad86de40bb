#pragma once

// Reading a container's usage cheaply and repeatedly: UsageReader opens the container's usage
// files once (rc/host_layout.h UsageFiles) and re-reads them with pread, as a sampler should.
// Container::ReadUsage uses the same parsing with open/read/close per call.
//
// Which files are required: v1 — cpuacct.usage{,_user,_sys} when a cpuacct hierarchy exists,
// cpu.stat (throttling), memory.usage_in_bytes/max_usage_in_bytes and pids.current when those
// hierarchies exist; v2 — cpu.stat, and memory.*, pids.current, *.pressure when present.
// A required file missing is NOT_FOUND; malformed content INVALID_ARGUMENT naming the file.
// A UsageReader owns its descriptors; thread-compatible (Read is const but shares offsets-free
// pread, so concurrent Reads are safe).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rc/attributes.h"
#include "rc/cgroup_fs.h"
#include "rc/host_layout.h"

namespace rcbench::rc {

class ContainerSystem;

struct UsageReaderOptions {
  // Read memory.stat for memory_working_set_bytes. It is the costliest file (~14 µs of
  // kernel time on v1 here, versus ~1 µs for the others); without it the working set equals
  // memory_usage_bytes.
  bool working_set = true;
};

class UsageReader {
 public:
  using Options = UsageReaderOptions;

  static absl::StatusOr<std::unique_ptr<UsageReader>> Open(const CgroupFs& fs,
                                                           const HostLayout& layout,
                                                           absl::string_view path, Options options);
  static absl::StatusOr<std::unique_ptr<UsageReader>> Open(const CgroupFs& fs,
                                                           const HostLayout& layout,
                                                           absl::string_view path) {
    return Open(fs, layout, path, Options{});
  }
  static absl::StatusOr<std::unique_ptr<UsageReader>> Open(const ContainerSystem& rc,
                                                           absl::string_view path,
                                                           Options options = Options{});
  ~UsageReader();
  UsageReader(const UsageReader&) = delete;
  UsageReader& operator=(const UsageReader&) = delete;

  absl::StatusOr<Usage> Read() const;
  // Number of files kept open.
  size_t open_files() const;

 private:
  struct File {
    std::string path;
    int fd = -1;
  };
  UsageReader(HostLayout layout, UsageFiles files) : layout_(std::move(layout)), files_(files) {}

  HostLayout layout_;
  UsageFiles files_;
  std::vector<File> open_;
};

// Reads `file` through `fs`: its content, nullopt when it is absent (controller not enabled)
// or unsupported (EOPNOTSUPP, e.g. PSI disabled at boot), or the error.
absl::StatusOr<std::optional<std::string>> ReadOptionalFile(const CgroupFs& fs,
                                                            const std::string& file);

// The parsing shared by UsageReader and Container::ReadUsage. `read` returns a file's content,
// nullopt when it does not exist (or is unsupported, e.g. PSI disabled), or an error.
absl::StatusOr<Usage> ReadUsageFiles(
    const HostLayout& layout, const UsageFiles& files,
    absl::FunctionRef<absl::StatusOr<std::optional<std::string>>(const std::string&)> read);

}  // namespace rcbench::rc
