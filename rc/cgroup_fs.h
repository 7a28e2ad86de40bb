#pragma once

// The cgroup filesystem seam. Every file and directory operation of rc/ (mountinfo, cgroup
// control files, /proc/<tid>/cgroup) goes through CgroupFs, with host paths such as
// "/sys/fs/cgroup/cpu/rcbench/a/cpu.shares". LocalCgroupFs resolves them below an injectable
// root directory, so unit tests run on fake cgroup trees in temp dirs.
//
// Errors map errno to absl codes and name the operation and path:
//   ENOENT/ESRCH -> NOT_FOUND, EACCES/EPERM -> PERMISSION_DENIED, EEXIST -> ALREADY_EXISTS,
//   EBUSY/ENOTEMPTY/EROFS/EOPNOTSUPP -> FAILED_PRECONDITION, EINVAL/ERANGE -> INVALID_ARGUMENT,
//   anything else -> INTERNAL.
// Implementations are thread-safe (no mutable state beyond the kernel's).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::rc {

class CgroupFs {
 public:
  virtual ~CgroupFs() = default;

  // Whole file contents (cgroup files are small; more than 4 MiB is an error).
  virtual absl::StatusOr<std::string> ReadFile(absl::string_view path) const = 0;
  // One write(2) of `content` (cgroup files reject partial writes).
  virtual absl::Status WriteFile(absl::string_view path, absl::string_view content) = 0;
  // ALREADY_EXISTS if the directory exists.
  virtual absl::Status MakeDir(absl::string_view path) = 0;
  // rmdir(2). NOT_FOUND if absent; FAILED_PRECONDITION if busy or not empty.
  virtual absl::Status RemoveDir(absl::string_view path) = 0;
  // Names of the subdirectories of `path`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDirs(absl::string_view path) const = 0;
  virtual bool IsDir(absl::string_view path) const = 0;
  virtual bool Exists(absl::string_view path) const = 0;
  // Opens a directory (O_RDONLY|O_DIRECTORY|O_CLOEXEC). The caller owns the descriptor.
  virtual absl::StatusOr<int> OpenDir(absl::string_view path) const = 0;
  // Opens a file for reading with pread (O_RDONLY|O_CLOEXEC). The caller owns the descriptor.
  virtual absl::StatusOr<int> OpenFile(absl::string_view path) const = 0;
  // The host path a descriptor refers to (inverse of OpenDir); NOT_FOUND if it lies outside
  // this filesystem's root.
  virtual absl::StatusOr<std::string> PathOfDescriptor(int fd) const = 0;
  // Inode number of a directory (the cgroup id on v2).
  virtual absl::StatusOr<uint64_t> Inode(absl::string_view path) const = 0;
  // Where `path` really is, for callers that open files themselves (e.g. the agent keeps
  // cgroup files open and re-reads them with pread).
  virtual std::string RealPath(absl::string_view path) const = 0;
};

// The real filesystem, optionally below a root directory.
class LocalCgroupFs : public CgroupFs {
 public:
  struct Options {
    // Prefix for every path; "" is the host's real root.
    std::string root;
    // For fake trees in temp dirs: WriteFile creates missing files, and RemoveDir first
    // deletes the regular files a directory holds (cgroupfs removes its control files itself).
    bool emulate_cgroupfs = false;
  };

  LocalCgroupFs() = default;
  explicit LocalCgroupFs(Options options);

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  absl::Status WriteFile(absl::string_view path, absl::string_view content) override;
  absl::Status MakeDir(absl::string_view path) override;
  absl::Status RemoveDir(absl::string_view path) override;
  absl::StatusOr<std::vector<std::string>> ListDirs(absl::string_view path) const override;
  bool IsDir(absl::string_view path) const override;
  bool Exists(absl::string_view path) const override;
  absl::StatusOr<int> OpenDir(absl::string_view path) const override;
  absl::StatusOr<int> OpenFile(absl::string_view path) const override;
  absl::StatusOr<std::string> PathOfDescriptor(int fd) const override;
  absl::StatusOr<uint64_t> Inode(absl::string_view path) const override;
  std::string RealPath(absl::string_view path) const override;

 private:
  Options options_;
};

// Converts an errno from operation `op` on `path` to a status as documented above.
absl::Status ErrnoStatus(int err, absl::string_view op, absl::string_view path);

}  // namespace rcbench::rc
