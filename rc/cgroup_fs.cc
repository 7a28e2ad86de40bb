#include "rc/cgroup_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rcbench::rc {
namespace {

constexpr size_t kMaxFileSize = 4 << 20;

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

absl::Status ErrnoStatus(int err, absl::string_view op, absl::string_view path) {
  std::string msg = absl::StrCat(op, " ", path, ": ", strerror(err));
  switch (err) {
    case ENOENT:
    case ESRCH:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat(msg, " (cgroup changes need root or a delegated cgroup)"));
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EROFS:
      return absl::FailedPreconditionError(absl::StrCat(msg, " (cgroupfs mounted read-only)"));
    case EBUSY:
    case ENOTEMPTY:
    case EOPNOTSUPP:
    case ENOTDIR:
      return absl::FailedPreconditionError(msg);
    case EINVAL:
    case ERANGE:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

LocalCgroupFs::LocalCgroupFs(Options options) : options_(std::move(options)) {
  while (!options_.root.empty() && options_.root.back() == '/') options_.root.pop_back();
}

std::string LocalCgroupFs::RealPath(absl::string_view path) const {
  return absl::StrCat(options_.root, path);
}

absl::StatusOr<std::string> LocalCgroupFs::ReadFile(absl::string_view path) const {
  const std::string real = RealPath(path);
  int fd = open(real.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  FdCloser closer(fd);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxFileSize) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": larger than 4 MiB"));
    }
  }
  return out;
}

absl::Status LocalCgroupFs::WriteFile(absl::string_view path, absl::string_view content) {
  const std::string real = RealPath(path);
  int flags = O_WRONLY | O_CLOEXEC;
  if (options_.emulate_cgroupfs) flags |= O_CREAT | O_TRUNC;
  int fd = open(real.c_str(), flags, 0644);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  FdCloser closer(fd);
  ssize_t n;
  do {
    n = write(fd, content.data(), content.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus(errno, absl::StrCat("write '", content, "' to"), path);
  if (static_cast<size_t>(n) != content.size()) {
    return absl::InternalError(absl::StrCat("short write to ", path));
  }
  return absl::OkStatus();
}

absl::Status LocalCgroupFs::MakeDir(absl::string_view path) {
  const std::string real = RealPath(path);
  if (mkdir(real.c_str(), 0755) != 0) return ErrnoStatus(errno, "mkdir", path);
  return absl::OkStatus();
}

absl::Status LocalCgroupFs::RemoveDir(absl::string_view path) {
  const std::string real = RealPath(path);
  if (options_.emulate_cgroupfs) {
    if (DIR* dir = opendir(real.c_str())) {
      while (dirent* ent = readdir(dir)) {
        std::string child = absl::StrCat(real, "/", ent->d_name);
        struct stat st;
        if (lstat(child.c_str(), &st) == 0 && S_ISREG(st.st_mode)) unlink(child.c_str());
      }
      closedir(dir);
    }
  }
  if (rmdir(real.c_str()) != 0) return ErrnoStatus(errno, "rmdir", path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LocalCgroupFs::ListDirs(absl::string_view path) const {
  const std::string real = RealPath(path);
  DIR* dir = opendir(real.c_str());
  if (dir == nullptr) return ErrnoStatus(errno, "opendir", path);
  std::vector<std::string> out;
  while (dirent* ent = readdir(dir)) {
    absl::string_view name = ent->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = ent->d_type == DT_DIR;
    if (ent->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = stat(absl::StrCat(real, "/", name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.emplace_back(name);
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

bool LocalCgroupFs::IsDir(absl::string_view path) const {
  struct stat st;
  return stat(RealPath(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool LocalCgroupFs::Exists(absl::string_view path) const {
  struct stat st;
  return stat(RealPath(path).c_str(), &st) == 0;
}

absl::StatusOr<int> LocalCgroupFs::OpenDir(absl::string_view path) const {
  int fd = open(RealPath(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  return fd;
}

absl::StatusOr<int> LocalCgroupFs::OpenFile(absl::string_view path) const {
  int fd = open(RealPath(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  return fd;
}

absl::StatusOr<std::string> LocalCgroupFs::PathOfDescriptor(int fd) const {
  char buf[PATH_MAX];
  const std::string link = absl::StrCat("/proc/self/fd/", fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return ErrnoStatus(errno, "readlink", link);
  std::string real(buf, static_cast<size_t>(n));
  if (options_.root.empty()) return real;
  if (!absl::StartsWith(real, options_.root) ||
      (real.size() > options_.root.size() && real[options_.root.size()] != '/')) {
    return absl::NotFoundError(
        absl::StrCat("descriptor ", fd, " (", real, ") lies outside ", options_.root));
  }
  return real.substr(options_.root.size());
}

absl::StatusOr<uint64_t> LocalCgroupFs::Inode(absl::string_view path) const {
  struct stat st;
  if (stat(RealPath(path).c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace rcbench::rc
