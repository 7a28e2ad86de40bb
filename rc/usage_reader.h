#pragma once

// Reading a container's usage cheaply and repeatedly: UsageReader opens the container's usage
// files once (rc/host_layout.h UsageFiles) and re-reads them with pread, as a sampler should.
// Container::ReadUsage uses the same parsing with open/read/close per call. This is rc's one
// model of cgroup usage: the agent samples every container through it.
//
// Strict reads (Read, Container::ReadUsage): v1 requires cpuacct.usage{,_user,_sys} when a
// cpuacct hierarchy exists, cpu.stat (throttling), memory.usage_in_bytes/max_usage_in_bytes
// and pids.current when those hierarchies exist; v2 requires cpu.stat, and reads memory.*,
// pids.current, io.stat and *.pressure when present; v1 reads blkio and (hybrid hosts) the
// unified directory's PSI files when present. A required file missing is NOT_FOUND; malformed
// content INVALID_ARGUMENT naming the file.
//
// Partial reads (ReadPartial, for samplers): every file is optional; a group ("cpu",
// "memory", ...) whose file is missing, unreadable or malformed is left out of `available`
// and counted in PartialRead, the rest is still reported.
//
// A UsageReader owns its descriptors (and returns them to its OpenFileBudget when destroyed).
// Read is const and uses pread, so concurrent Reads are safe; ReadPartial and OpenMore are
// not (one sampling thread).

#include <cstddef>
#include <cstdint>
#include <limits>
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

// Descriptors that readers may keep open, shared by every reader given it. Files beyond the
// limit are read with open/read/close each time (slower, same values). Not thread-safe.
struct OpenFileBudget {
  size_t limit = std::numeric_limits<size_t>::max();
  size_t open = 0;
};

struct UsageReaderOptions {
  // Read memory.stat for memory_working_set_bytes. It is the costliest file (~14 µs of
  // kernel time on v1 here, versus ~1 µs for the others); without it the working set equals
  // memory_usage_bytes.
  bool working_set = true;
  // Block I/O counters (v2 io.stat, v1 blkio.throttle.*_recursive).
  bool io = true;
  // Pressure stall information (cgroup2 directories only).
  bool psi = true;
  // v1: take user/system CPU from cpuacct.stat (USER_HZ ticks, converted to ns) instead of
  // cpuacct.usage_user/_sys. The two are accounted differently by the kernel and differ.
  bool v1_cpu_split_from_cpuacct_stat = false;
  // Partial reads (ReadPartial): Open reads nothing and fails only for an invalid path.
  bool partial = false;
  // Kept-open descriptors come from here; nullptr: every file that exists is kept open.
  OpenFileBudget* budget = nullptr;
};

// What one ReadPartial met.
struct PartialRead {
  uint32_t files_read = 0;     // files read (parsed or not)
  uint32_t failed = 0;         // files that exist but could not be read (EMFILE, EIO, ...)
  uint32_t malformed = 0;      // files read whose content did not parse; their group is left out
  uint32_t preads = 0;         // kept-open files re-read
  uint32_t reopens = 0;        // files read with open/read/close (beyond the budget)
  bool gone = false;           // the container's directory vanished: the usage is not valid
  bool files_changed = false;  // a file read with open/read/close has disappeared
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
  // Fills *usage (reusing its storage) with every group that could be read.
  void ReadPartial(Usage* usage, PartialRead* result);
  // Keeps open the files that were missing or beyond the budget when last tried, as far as the
  // budget allows now (hierarchies are populated one after another; removed readers free
  // budget). Cheap when every file is open.
  void OpenMore();

  // Number of files kept open.
  size_t open_files() const;
  // Paths of the files kept open.
  std::vector<std::string> OpenFilePaths() const;

  // The files a reader with `options` reads, in reading order (non-empty paths only).
  static std::vector<std::string> FilesRead(const UsageFiles& files, const Options& options);

 private:
  static constexpr int kFileKinds = 15;  // the file kinds of usage_reader.cc
  UsageReader(const CgroupFs& fs, bool v1, UsageFiles files, Options options);
  void TryOpen(int kind);

  // Read every sample, so kept small (a sampler holds a reader per container and, at long
  // intervals, finds them cold): descriptors and flags only.
  const CgroupFs& fs_;
  int fds_[kFileKinds];
  uint16_t present_ = 0;  // kinds with a path (the layout names them and the options read them)
  uint16_t reopen_ = 0;   // kinds that exist but are read with open/read/close
  bool v1_;
  Options options_;
  // Out of line: the paths, used to open files and in errors only.
  std::unique_ptr<const UsageFiles> files_;
};

// Reads `file` through `fs`: its content, nullopt when it is absent (controller not enabled)
// or unsupported (EOPNOTSUPP, e.g. PSI disabled at boot), or the error.
absl::StatusOr<std::optional<std::string>> ReadOptionalFile(const CgroupFs& fs,
                                                            const std::string& file);

// The strict parsing shared by UsageReader and Container::ReadUsage. `read` returns a file's
// content, nullopt when it does not exist (or is unsupported, e.g. PSI disabled), or an error.
absl::StatusOr<Usage> ReadUsageFiles(
    const HostLayout& layout, const UsageFiles& files,
    absl::FunctionRef<absl::StatusOr<std::optional<std::string>>(const std::string&)> read,
    const UsageReaderOptions& options = UsageReaderOptions{});

}  // namespace rcbench::rc
