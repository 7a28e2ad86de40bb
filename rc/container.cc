#include "rc/container.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "rc/backend.h"
#include "rc/names.h"

namespace rcbench::rc {
namespace {

pid_t SelfTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

constexpr absl::string_view kHandleMagic = "rcbench-container:";

absl::StatusOr<uint64_t> SocketInode(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, "fstat", absl::StrCat("fd ", fd));
  if (!S_ISSOCK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("descriptor ", fd, " is not a socket"));
  }
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace

bool Usage::Has(const std::string& group) const {
  for (const std::string& g : available) {
    if (g == group) return true;
  }
  return false;
}

Container::Container(std::shared_ptr<internal::Backend> backend, std::string path, int fd,
                     uint64_t cgroup_id, bool remove_on_release)
    : backend_(std::move(backend)),
      path_(std::move(path)),
      fd_(fd),
      cgroup_id_(cgroup_id),
      remove_on_release_(remove_on_release) {}

Container::Container(Container&& other) noexcept
    : backend_(std::move(other.backend_)),
      path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      cgroup_id_(other.cgroup_id_),
      remove_on_release_(other.remove_on_release_) {
  other.backend_.reset();
}

Container& Container::operator=(Container&& other) noexcept {
  if (this != &other) {
    Release();
    backend_ = std::move(other.backend_);
    other.backend_.reset();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    cgroup_id_ = other.cgroup_id_;
    remove_on_release_ = other.remove_on_release_;
  }
  return *this;
}

Container::~Container() { Release(); }

std::string Container::name() const { return BaseName(path_); }

void Container::Release() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (backend_ != nullptr && remove_on_release_ && backend_->Exists(path_)) {
    absl::Status s = backend_->Destroy(path_, /*recursive=*/true);
    if (!s.ok()) {
      RCBENCH_LOG(WARNING) << "releasing container '" << path_ << "': " << s;
    }
  }
  backend_.reset();
}

absl::Status Container::SetAttributes(const Attributes& attributes) {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  return backend_->SetAttributes(path_, attributes);
}

absl::StatusOr<Attributes> Container::GetAttributes() const {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  return backend_->GetAttributes(path_);
}

absl::StatusOr<Usage> Container::ReadUsage() const {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  return backend_->ReadUsage(path_);
}

absl::Status Container::BindThread(pid_t tid) {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  return backend_->BindThread(path_, tid == 0 ? SelfTid() : tid);
}

absl::Status Container::BindProcess(pid_t pid) {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  return backend_->BindProcess(path_, pid == 0 ? getpid() : pid);
}

absl::StatusOr<std::vector<pid_t>> Container::Threads() const {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  return backend_->Members(path_, /*threads=*/true);
}

absl::StatusOr<std::vector<pid_t>> Container::Processes() const {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  return backend_->Members(path_, /*threads=*/false);
}

absl::Status Container::BindSocket(int fd, const SocketMarking& marking) {
  if (!valid()) return absl::FailedPreconditionError("invalid container handle");
  RCBENCH_ASSIGN_OR_RETURN(uint64_t inode, SocketInode(fd));
  if (marking.mark.has_value()) {
    uint32_t mark = *marking.mark;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
      return ErrnoStatus(errno, "setsockopt(SO_MARK) on", absl::StrCat("socket ", fd));
    }
  }
  if (marking.priority.has_value()) {
    int prio = *marking.priority;
    if (setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)) != 0) {
      return ErrnoStatus(errno, "setsockopt(SO_PRIORITY) on", absl::StrCat("socket ", fd));
    }
  }
  backend_->RecordSocket(fd, inode, path_);
  return absl::OkStatus();
}

void Container::UnbindSocket(int fd) {
  if (valid()) backend_->ForgetSocket(fd);
}

ContainerSystem::ContainerSystem(std::shared_ptr<internal::Backend> backend)
    : backend_(std::move(backend)) {}

ContainerSystem::~ContainerSystem() = default;

absl::StatusOr<std::unique_ptr<ContainerSystem>> ContainerSystem::Open(Options options) {
  std::shared_ptr<CgroupFs> fs = options.fs;
  if (fs == nullptr) fs = std::make_shared<LocalCgroupFs>();
  RCBENCH_ASSIGN_OR_RETURN(HostLayout layout, ProbeHost(*fs, options.probe));
  std::shared_ptr<internal::Backend> backend = layout.backend == BackendKind::kV2
                                                   ? internal::MakeV2Backend(fs, std::move(layout))
                                                   : internal::MakeV1Backend(fs, std::move(layout));
  absl::Status s = backend->EnsureSubtree();
  if (!s.ok()) {
    return absl::Status(
        s.code(),
        absl::StrCat("creating the rc root subtree '", backend->layout().root_name, "' (",
                     BackendKindName(backend->layout().backend), " backend): ", s.message()));
  }
  return std::unique_ptr<ContainerSystem>(new ContainerSystem(std::move(backend)));
}

const HostLayout& ContainerSystem::layout() const { return backend_->layout(); }

CgroupFs& ContainerSystem::fs() const { return backend_->fs(); }

void ContainerSystem::RemoveRootIfEmpty() const {
  for (const Hierarchy* h : layout().Managed()) fs().RemoveDir(h->subtree_dir).IgnoreError();
}

absl::StatusOr<Container> ContainerSystem::MakeHandle(absl::string_view path,
                                                      bool remove_on_release) {
  const std::string dir = backend_->Dir(layout().Primary(), path);
  RCBENCH_ASSIGN_OR_RETURN(int fd, backend_->fs().OpenDir(dir));
  auto inode = backend_->fs().Inode(dir);
  return Container(backend_, std::string(path), fd, inode.ok() ? *inode : 0, remove_on_release);
}

absl::StatusOr<Container> ContainerSystem::Create(absl::string_view path,
                                                  const Attributes& attributes,
                                                  const CreateOptions& options) {
  RCBENCH_RETURN_IF_ERROR(ValidatePath(path));
  if (path.empty()) return absl::InvalidArgumentError("cannot create the root subtree itself");
  RCBENCH_RETURN_IF_ERROR(internal::ValidateAttributes(attributes));
  const std::string parent = ParentPath(path);
  if (parent.empty()) {
    // The root subtree is created on demand; another process on this host (an agent or server
    // of a concurrent experiment) may have removed it while it was empty.
    RCBENCH_RETURN_IF_ERROR(backend_->EnsureSubtree());
  } else if (!backend_->Exists(parent)) {
    if (!options.create_parents) {
      return absl::NotFoundError(
          absl::StrCat("parent container '", parent, "' of '", path, "' does not exist"));
    }
    CreateOptions parent_options;
    parent_options.exist_ok = true;
    parent_options.create_parents = true;
    parent_options.threaded = options.threaded;
    RCBENCH_RETURN_IF_ERROR(Create(parent, {}, parent_options).status());
  }
  bool created = false;
  if (backend_->Exists(path)) {
    if (!options.exist_ok) {
      return absl::AlreadyExistsError(absl::StrCat("container '", path, "' already exists"));
    }
  } else {
    absl::Status s = backend_->CreateNode(path, options.threaded);
    // Lost a race with RemoveRootIfEmpty between EnsureSubtree and CreateNode: once our node
    // exists the root is no longer empty, so one retry settles it.
    for (int retry = 0; parent.empty() && absl::IsNotFound(s) && retry < 3; ++retry) {
      RCBENCH_RETURN_IF_ERROR(backend_->EnsureSubtree());
      s = backend_->CreateNode(path, options.threaded);
    }
    RCBENCH_RETURN_IF_ERROR(s);
    created = true;
  }
  absl::Status s = backend_->SetAttributes(path, attributes);
  if (!s.ok()) {
    if (created) backend_->Destroy(path, false).IgnoreError();
    return s;
  }
  return MakeHandle(path, options.remove_on_release);
}

absl::StatusOr<Container> ContainerSystem::CreateChild(const Container* parent,
                                                       absl::string_view name,
                                                       const Attributes& attributes,
                                                       const CreateOptions& options) {
  RCBENCH_RETURN_IF_ERROR(ValidateName(name));
  return Create(JoinPath(parent != nullptr ? parent->path() : "", name), attributes, options);
}

absl::StatusOr<Container> ContainerSystem::OpenContainer(absl::string_view path) {
  RCBENCH_RETURN_IF_ERROR(ValidatePath(path));
  if (!backend_->Exists(path)) {
    return absl::NotFoundError(absl::StrCat("container '", path, "' does not exist"));
  }
  return MakeHandle(path, false);
}

absl::StatusOr<Container> ContainerSystem::FromDescriptor(int fd) {
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) close(fd);
    }
  } closer{fd};
  RCBENCH_ASSIGN_OR_RETURN(std::string host_path, backend_->fs().PathOfDescriptor(fd));
  const std::string& subtree = layout().Primary().subtree_dir;
  if (!IsSameOrBelow(host_path, subtree)) {
    return absl::InvalidArgumentError(absl::StrCat("descriptor ", fd, " refers to ", host_path,
                                                   ", not a container below ", subtree));
  }
  std::string path = host_path.size() > subtree.size() ? host_path.substr(subtree.size() + 1) : "";
  RCBENCH_RETURN_IF_ERROR(ValidatePath(path));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("descriptor ", fd, " is not a directory"));
  }
  closer.fd = -1;
  return Container(backend_, std::move(path), fd, static_cast<uint64_t>(st.st_ino), false);
}

absl::Status ContainerSystem::SetParent(Container& container, const Container* new_parent) {
  if (!container.valid()) return absl::FailedPreconditionError("invalid container handle");
  const std::string old_path = container.path();
  if (old_path.empty()) return absl::InvalidArgumentError("the root subtree has no parent");
  const std::string parent_path = new_parent != nullptr ? new_parent->path() : "";
  if (parent_path == ParentPath(old_path)) return absl::OkStatus();
  if (IsSameOrBelow(parent_path, old_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot move container '", old_path, "' below itself ('", parent_path, "')"));
  }
  if (!backend_->Exists(parent_path)) {
    return absl::NotFoundError(absl::StrCat("container '", parent_path, "' does not exist"));
  }
  const std::string new_path = JoinPath(parent_path, BaseName(old_path));
  RCBENCH_RETURN_IF_ERROR(ValidatePath(new_path));
  if (backend_->Exists(new_path)) {
    return absl::AlreadyExistsError(absl::StrCat("container '", new_path, "' already exists"));
  }
  RCBENCH_RETURN_IF_ERROR(backend_->MoveTree(old_path, new_path));
  RCBENCH_ASSIGN_OR_RETURN(Container moved, MakeHandle(new_path, container.remove_on_release_));
  container.remove_on_release_ = false;  // the old node is gone; don't remove anything twice
  container = std::move(moved);
  return absl::OkStatus();
}

absl::Status ContainerSystem::Destroy(absl::string_view path, bool recursive) {
  RCBENCH_RETURN_IF_ERROR(ValidatePath(path));
  return backend_->Destroy(path, recursive);
}

absl::StatusOr<std::vector<std::string>> ContainerSystem::List(absl::string_view path) const {
  RCBENCH_RETURN_IF_ERROR(ValidatePath(path));
  std::vector<std::string> out;
  std::vector<std::string> stack{std::string(path)};
  while (!stack.empty()) {
    std::string p = std::move(stack.back());
    stack.pop_back();
    RCBENCH_ASSIGN_OR_RETURN(std::vector<std::string> children, backend_->Children(p));
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      stack.push_back(JoinPath(p, *it));
    }
    if (p != path) out.push_back(std::move(p));
  }
  return out;
}

bool ContainerSystem::Exists(absl::string_view path) const {
  return ValidatePath(path).ok() && backend_->Exists(path);
}

absl::Status ContainerSystem::ResetThreadBinding(pid_t tid) {
  return backend_->ResetThread(tid == 0 ? SelfTid() : tid);
}

absl::StatusOr<std::string> ContainerSystem::SocketContainer(int fd) const {
  RCBENCH_ASSIGN_OR_RETURN(uint64_t inode, SocketInode(fd));
  return backend_->SocketPath(fd, inode);
}

absl::Status SendContainer(int unix_socket, const Container& container) {
  if (!container.valid()) return absl::FailedPreconditionError("invalid container handle");
  const std::string payload = absl::StrCat(kHandleMagic, container.path());
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  const int fd = container.fd();
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(unix_socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return ErrnoStatus(errno, "sendmsg(SCM_RIGHTS) on", absl::StrCat("socket ", unix_socket));
  return absl::OkStatus();
}

absl::StatusOr<Container> ReceiveContainer(ContainerSystem& system, int unix_socket) {
  char buf[4096];
  iovec iov{buf, sizeof(buf)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(unix_socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus(errno, "recvmsg on", absl::StrCat("socket ", unix_socket));
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.push_back(fd);
      }
    }
  }
  const absl::string_view payload(buf, static_cast<size_t>(n));
  if (fds.size() != 1 || !absl::StartsWith(payload, kHandleMagic) ||
      (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
    for (int fd : fds) close(fd);
    if (n == 0) return absl::UnavailableError("peer closed the socket before sending a handle");
    return absl::InvalidArgumentError(absl::StrCat("expected one container handle (", kHandleMagic,
                                                   "<path> with one descriptor), got ", fds.size(),
                                                   " descriptors and ", n, " bytes"));
  }
  return system.FromDescriptor(fds[0]);
}

}  // namespace rcbench::rc
