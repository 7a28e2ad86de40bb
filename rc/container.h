#pragma once

// The paper's resource-container API on Linux cgroups (v2, or v1 on hybrid hosts).
//
//   auto rc = ContainerSystem::Open();                 // probe host, create "rcbench" subtree
//   auto web = rc->Create("web", {.cpu_weight = 200});  // a container, parent = the subtree
//   auto conn = rc->Create("web/conn1", {});            // nested
//   conn->BindThread();                                 // the calling thread now runs in it
//   auto usage = conn->ReadUsage();
//
// Containers are cgroup directories below one root subtree (default "rcbench") in every
// managed hierarchy; paths are relative to it and validated (rc/names.h). A Container is a
// handle: movable, it holds a descriptor of the container's directory in the primary
// hierarchy and closes it on destruction (the paper's "release"). Releasing does not remove
// the cgroup unless the handle was created with CreateOptions::remove_on_release; removing
// is ContainerSystem::Destroy. See rc/README.md for the semantics of re-parenting, v1 vs v2,
// and thread binding.
//
// Thread safety: ContainerSystem and Container are thread-safe for concurrent operations on
// different containers; the kernel serialises the rest. A Container object itself is
// thread-compatible (don't move it while another thread uses it).
//
// Errors: INVALID_ARGUMENT (bad name/path/attribute), NOT_FOUND (no such container, thread or
// process), ALREADY_EXISTS, FAILED_PRECONDITION (controller not available, cgroup rule such as
// v2's "no internal processes", container busy), PERMISSION_DENIED (not root / not delegated),
// and the cgroup file's own errors with its path.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rc/attributes.h"
#include "rc/cgroup_fs.h"
#include "rc/host_layout.h"

namespace rcbench::rc {

namespace internal {
class Backend;
}  // namespace internal

// How a socket is marked when bound to a container, so kernel classifiers (tc, iptables,
// nftables `meta mark`/`meta priority`) can see the association.
struct SocketMarking {
  // SO_MARK (needs CAP_NET_ADMIN); unset = leave as is.
  std::optional<uint32_t> mark;
  // SO_PRIORITY 0..6 without CAP_NET_ADMIN; unset = leave as is.
  std::optional<int> priority;
};

class Container {
 public:
  Container() = default;  // an invalid handle
  Container(Container&& other) noexcept;
  Container& operator=(Container&& other) noexcept;
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  ~Container();

  bool valid() const { return backend_ != nullptr; }
  // Path relative to the root subtree ("" = the subtree itself).
  const std::string& path() const { return path_; }
  std::string name() const;
  // Kernel cgroup id: inode of the directory in the primary hierarchy.
  uint64_t cgroup_id() const { return cgroup_id_; }
  // Directory descriptor in the primary hierarchy, owned by this handle (-1 when invalid).
  int fd() const { return fd_; }

  // Closes the descriptor (and removes the cgroup if created with remove_on_release, moving
  // members to the parent first). Idempotent.
  void Release();

  absl::Status SetAttributes(const Attributes& attributes);
  absl::StatusOr<Attributes> GetAttributes() const;
  absl::StatusOr<Usage> ReadUsage() const;

  // Binds thread `tid` (0 = the calling thread) to this container: v1 writes it to `tasks` of
  // the cpu, cpuacct and pids hierarchies; v2 to `cgroup.threads` (the container must be
  // threaded, CreateOptions::threaded, and the process in its threaded domain).
  absl::Status BindThread(pid_t tid = 0);
  // Moves every thread of process `pid` (0 = this process) into the container, in every
  // managed hierarchy (v1 including memory).
  absl::Status BindProcess(pid_t pid = 0);
  // Thread ids / process ids currently in the container itself (not descendants).
  absl::StatusOr<std::vector<pid_t>> Threads() const;
  absl::StatusOr<std::vector<pid_t>> Processes() const;

  // Records that socket `fd` works for this container and marks it (SO_MARK/SO_PRIORITY).
  // The association is kept until UnbindSocket or ContainerSystem::SocketContainer finds fd
  // closed. Note: the kernel's own socket->cgroup association (v2) is made at socket creation
  // from the creating thread's cgroup and cannot be changed afterwards.
  absl::Status BindSocket(int fd, const SocketMarking& marking = {});
  void UnbindSocket(int fd);

 private:
  friend class ContainerSystem;
  Container(std::shared_ptr<internal::Backend> backend, std::string path, int fd,
            uint64_t cgroup_id, bool remove_on_release);

  std::shared_ptr<internal::Backend> backend_;
  std::string path_;
  int fd_ = -1;
  uint64_t cgroup_id_ = 0;
  bool remove_on_release_ = false;
};

struct CreateOptions {
  // Succeed (applying the attributes) when the container exists.
  bool exist_ok = false;
  // Create missing ancestors too (with default attributes, same type), as the agent's
  // CreateContainer does; otherwise a missing parent is NOT_FOUND.
  bool create_parents = false;
  // Remove the cgroup when the returned handle is released or destroyed.
  bool remove_on_release = false;
  // v2: make it a threaded cgroup so single threads can be bound (only threaded controllers,
  // cpu and pids, then apply). Ignored on v1, where every cgroup takes single threads.
  bool threaded = false;
};

class ContainerSystem {
 public:
  struct Options {
    ProbeOptions probe;
    // Filesystem seam; nullptr = the real one (LocalCgroupFs with root "").
    std::shared_ptr<CgroupFs> fs;
  };

  // Probes the host, picks the backend and creates the root subtree in every managed
  // hierarchy (enabling controllers on v2). Errors say exactly what is missing: no cgroup
  // mount, no cpu controller, read-only mount, not root.
  static absl::StatusOr<std::unique_ptr<ContainerSystem>> Open(Options options);
  static absl::StatusOr<std::unique_ptr<ContainerSystem>> Open() { return Open(Options{}); }

  const HostLayout& layout() const;
  CgroupFs& fs() const;
  // Removes the root subtree in every managed hierarchy if it is empty, leaving the host as it
  // was before the subtree was created on demand. rmdir fails harmlessly (and is ignored)
  // while anything still has containers below it.
  void RemoveRootIfEmpty() const;

  // Creates `path` (its parent must exist) and applies `attributes`.
  absl::StatusOr<Container> Create(absl::string_view path, const Attributes& attributes = {},
                                   const CreateOptions& options = {});
  // Creates child `name` of `parent` (nullptr = the root subtree).
  absl::StatusOr<Container> CreateChild(const Container* parent, absl::string_view name,
                                        const Attributes& attributes = {},
                                        const CreateOptions& options = {});
  // Obtains a handle for an existing container by path ("" = the root subtree).
  absl::StatusOr<Container> OpenContainer(absl::string_view path);
  // Adopts a directory descriptor (e.g. received over SCM_RIGHTS) as a handle; takes
  // ownership of `fd` even on error. INVALID_ARGUMENT if it is not a container of this host's
  // root subtree in the primary hierarchy.
  absl::StatusOr<Container> FromDescriptor(int fd);

  // Re-parents `container` under `new_parent` (nullptr = the root subtree, i.e. parent-less).
  // cgroups cannot move directories, so this creates the node (and its descendants) under the
  // new parent, copies attributes, migrates every member thread/process, removes the old node
  // and updates `container`'s path and descriptor. Other handles to the old node become stale
  // (NOT_FOUND). ALREADY_EXISTS if the new parent has a child of that name; INVALID_ARGUMENT
  // when moving a container below itself.
  absl::Status SetParent(Container& container, const Container* new_parent);

  // Removes `path`, moving its members to the parent first. With `recursive`, descendants are
  // removed depth first; otherwise FAILED_PRECONDITION if it has children. NOT_FOUND if absent.
  absl::Status Destroy(absl::string_view path, bool recursive = false);
  // Paths of every container below `path` (depth first, parents before children; `path`
  // itself is not included).
  absl::StatusOr<std::vector<std::string>> List(absl::string_view path = "") const;
  bool Exists(absl::string_view path) const;

  // The paper's "reset scheduler binding": moves thread `tid` (0 = calling thread) back to the
  // cgroups it was in before its first BindThread through this ContainerSystem.
  // NOT_FOUND if it was never bound.
  absl::Status ResetThreadBinding(pid_t tid = 0);

  // The container socket `fd` was bound to (NOT_FOUND if none).
  absl::StatusOr<std::string> SocketContainer(int fd) const;

  ~ContainerSystem();

 private:
  explicit ContainerSystem(std::shared_ptr<internal::Backend> backend);
  absl::StatusOr<Container> MakeHandle(absl::string_view path, bool remove_on_release);

  std::shared_ptr<internal::Backend> backend_;
};

// Passes a container between processes (the paper's "share"): sends the handle's directory
// descriptor over a connected AF_UNIX socket with SCM_RIGHTS, with the path as payload.
absl::Status SendContainer(int unix_socket, const Container& container);
// Receives one handle sent by SendContainer and adopts it (ContainerSystem::FromDescriptor).
absl::StatusOr<Container> ReceiveContainer(ContainerSystem& system, int unix_socket);

}  // namespace rcbench::rc
