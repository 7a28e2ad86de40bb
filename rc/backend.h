#pragma once

// Internal to rc/: the interface between ContainerSystem and the cgroup v1 / v2 backends.
// Paths are relative to the root subtree ("" = the subtree itself) and already validated.
// Thread-safe: the mutable bookkeeping (thread originals, sockets) is guarded by mu_.

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rc/attributes.h"
#include "rc/cgroup_fs.h"
#include "rc/host_layout.h"

namespace rcbench::rc::internal {

class Backend {
 public:
  Backend(std::shared_ptr<CgroupFs> fs, HostLayout layout)
      : fs_(std::move(fs)), layout_(std::move(layout)) {}
  virtual ~Backend() = default;

  const HostLayout& layout() const { return layout_; }
  CgroupFs& fs() const { return *fs_; }

  // Creates the root subtree in every managed hierarchy if missing.
  virtual absl::Status EnsureSubtree() = 0;
  // Creates one node (its parent exists) in every managed hierarchy; all or nothing.
  virtual absl::Status CreateNode(absl::string_view path, bool threaded) = 0;
  // Whether the node is a v2 threaded cgroup (always false on v1).
  virtual bool IsThreaded(absl::string_view path) const = 0;
  virtual absl::Status SetAttributes(absl::string_view path, const Attributes& attributes) = 0;
  virtual absl::StatusOr<Attributes> GetAttributes(absl::string_view path) const = 0;
  virtual absl::Status BindThread(absl::string_view path, pid_t tid) = 0;
  virtual absl::Status BindProcess(absl::string_view path, pid_t pid) = 0;
  virtual absl::StatusOr<std::vector<pid_t>> Members(absl::string_view path,
                                                     bool threads) const = 0;
  // Moves every member of node `from` into node `to` (or, with to == nullopt, the parent of
  // `from`, falling back to the hierarchy root where cgroup rules forbid the parent).
  virtual absl::Status MoveMembers(absl::string_view from, const std::string* to) = 0;
  // Moves thread `tid` into the host directories recorded for it.
  virtual absl::Status MoveThreadTo(
      pid_t tid, const std::vector<std::pair<const Hierarchy*, std::string>>& dirs) = 0;

  // Generic operations built on the primitives above.
  bool Exists(absl::string_view path) const;
  // The usage files the layout names for the node (the same reading on v1 and v2).
  absl::StatusOr<Usage> ReadUsage(absl::string_view path) const;
  absl::StatusOr<std::vector<std::string>> Children(absl::string_view path) const;
  // Moves members to the parent and removes the node (children first with `recursive`).
  absl::Status Destroy(absl::string_view path, bool recursive);
  // Re-creates `from` (and descendants) as `to`, migrating members; removes `from`.
  absl::Status MoveTree(absl::string_view from, absl::string_view to);
  // Records where `tid` was before its first binding (so ResetThreadBinding can restore it).
  absl::Status RecordOriginal(pid_t tid);
  absl::Status ResetThread(pid_t tid);

  void RecordSocket(int fd, uint64_t inode, std::string path);
  void ForgetSocket(int fd);
  absl::StatusOr<std::string> SocketPath(int fd, uint64_t inode) const;
  void RenameSockets(absl::string_view from, absl::string_view to);

  std::string Dir(const Hierarchy& h, absl::string_view path) const {
    return layout_.ContainerDir(h, path);
  }
  std::string ParentDir(const Hierarchy& h, absl::string_view path) const;

 protected:
  // Removes one empty node from every managed hierarchy (retrying briefly while busy).
  absl::Status RemoveEmptyNode(absl::string_view path);

  std::shared_ptr<CgroupFs> fs_;
  HostLayout layout_;

 private:
  mutable std::mutex mu_;
  std::map<pid_t, std::vector<std::pair<const Hierarchy*, std::string>>> originals_;
  std::map<int, std::pair<uint64_t, std::string>> sockets_;
};

std::unique_ptr<Backend> MakeV1Backend(std::shared_ptr<CgroupFs> fs, HostLayout layout);
std::unique_ptr<Backend> MakeV2Backend(std::shared_ptr<CgroupFs> fs, HostLayout layout);

// Attribute validation shared by both backends (INVALID_ARGUMENT naming the field).
absl::Status ValidateAttributes(const Attributes& a);

}  // namespace rcbench::rc::internal
