#include "agent/cgroup_sampler.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/container_path.h"
#include "agent/fd_budget.h"
#include "common/logging.h"
#include "rc/cgroup_files.h"
#include "rc/proto_convert.h"

namespace rcbench::agent {
namespace {

using rcbench::v1::ContainerUsage;

std::string NormalizeRoot(const std::string& root) {
  std::string r = root;
  while (!r.empty() && r.front() == '/') r.erase(r.begin());
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r;
}

uint64_t InodeOf(const std::string& dir) {
  struct stat st;
  return stat(dir.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

struct CgroupSampler::Container {
  std::string path;
  uint64_t cgroup_id = 0;
  uint64_t socket_cgroup_id = 0;
  std::unique_ptr<rc::UsageReader> reader;
  // v1: the primary hierarchy's cgroup.procs exists (socket attribution through /proc).
  bool has_procs = false;
  bool alive = true;
};

CgroupSampler::CgroupSampler(SamplerOptions options, Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  options_.root = NormalizeRoot(options_.root);
  if (options_.layout.uses_v1()) {
    for (const char* c : kV1Controllers) {
      if (options_.layout.has(c)) hierarchies_.push_back(c);
    }
  }
  if (options_.layout.has("unified")) hierarchies_.push_back("unified");
  if (options_.max_open_files == 0) options_.max_open_files = DefaultOpenFileBudget();
  budget_.limit = options_.max_open_files;
  usage_layout_ = options_.layout.host;
  usage_layout_.root_name = options_.root;
  for (rc::Hierarchy& h : usage_layout_.hierarchies) {
    h.subtree_dir = options_.root.empty() ? h.mount_point : h.mount_point + "/" + options_.root;
  }
}

CgroupSampler::~CgroupSampler() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

absl::StatusOr<std::unique_ptr<CgroupSampler>> CgroupSampler::Create(SamplerOptions options,
                                                                     Clock* clock) {
  std::string root = NormalizeRoot(options.root);
  if (!root.empty()) {
    absl::Status s = ValidateContainerPath(root);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("root: ", s.message()));
  }
  if (options.layout.mounts.empty()) {
    return absl::InvalidArgumentError("no cgroup hierarchy to sample");
  }
  std::unique_ptr<CgroupSampler> sampler(new CgroupSampler(std::move(options), clock));
  if (sampler->options_.use_inotify) {
    sampler->inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (sampler->inotify_fd_ < 0) {
      RCBENCH_LOG(WARNING) << "inotify unavailable (" << std::strerror(errno)
                           << "): rescanning the subtree every interval";
    }
  }
  sampler->WatchAncestors();
  sampler->Rescan();
  return sampler;
}

void CgroupSampler::WatchAncestors() {
  if (inotify_fd_ < 0) return;
  std::vector<std::string> parts;
  if (!options_.root.empty()) parts = absl::StrSplit(options_.root, '/');
  for (const std::string& h : hierarchies_) {
    std::string dir = options_.layout.MountOf(h);
    for (const std::string& part : parts) {
      int wd =
          inotify_add_watch(inotify_fd_, dir.c_str(), IN_CREATE | IN_DELETE | IN_MOVE | IN_ONLYDIR);
      if (wd >= 0) ancestor_watches_[wd] = part;
      dir += "/" + part;
    }
  }
}

void CgroupSampler::Refresh() {
  if (inotify_fd_ < 0) {
    Rescan();
    return;
  }
  alignas(inotify_event) char ev_buf[16 * 1024];
  for (;;) {
    ssize_t n = read(inotify_fd_, ev_buf, sizeof(ev_buf));
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(ev_buf + off);
      off += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        rescan_needed_ = true;
        continue;
      }
      if (ev->mask & IN_IGNORED) continue;
      auto it = ancestor_watches_.find(ev->wd);
      if (it != ancestor_watches_.end()) {
        if (ev->len > 0 && it->second == ev->name) rescan_needed_ = true;
        continue;
      }
      if (ev->mask & IN_ISDIR) rescan_needed_ = true;
    }
  }
  if (rescan_needed_) Rescan();
}

bool CgroupSampler::Walk(const std::string& hierarchy, const std::string& dir,
                         const std::string& rel, absl::flat_hash_map<std::string, int>* found) {
  DIR* d = opendir(dir.c_str());
  // A directory removed meanwhile is simply not a container any more; anything else (EMFILE,
  // ENOMEM) says nothing about the tree and must not drop the containers below it.
  if (d == nullptr) return errno == ENOENT || errno == ENOTDIR;
  if (inotify_fd_ >= 0) {
    inotify_add_watch(inotify_fd_, dir.c_str(), IN_CREATE | IN_DELETE | IN_MOVE | IN_ONLYDIR);
  }
  ++(*found)[rel];
  std::vector<std::string> children;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    std::string child = dir + "/" + e->d_name;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (stat(child.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    }
    children.push_back(e->d_name);
  }
  closedir(d);
  for (const std::string& name : children) {
    std::string child_rel = rel.empty() ? name : rel + "/" + name;
    if (!ValidateContainerPath(child_rel).ok()) continue;  // too deep or odd: not ours
    if (!Walk(hierarchy, dir + "/" + name, child_rel, found)) return false;
  }
  return true;
}

void CgroupSampler::Rescan() {
  rescan_needed_ = false;
  ++stats_.rescans;
  absl::flat_hash_map<std::string, int> found;
  for (const std::string& h : hierarchies_) {
    std::string dir = options_.layout.MountOf(h);
    if (!options_.root.empty()) dir += "/" + options_.root;
    if (!Walk(h, dir, "", &found)) {
      ++stats_.walk_errors;
      rescan_needed_ = true;
      RCBENCH_LOG(DEBUG) << "walk of " << dir << " failed: keeping the " << containers_.size()
                         << " known containers";
      return;
    }
  }
  std::vector<std::string> paths;
  paths.reserve(found.size());
  for (const auto& [path, unused] : found) paths.push_back(path);
  std::sort(paths.begin(), paths.end());

  std::vector<std::unique_ptr<Container>> next;
  next.reserve(paths.size());
  size_t i = 0;
  for (const std::string& path : paths) {
    while (i < containers_.size() && containers_[i]->path < path) {
      ++stats_.containers_removed;
      ++i;
    }
    std::unique_ptr<Container> c;
    if (i < containers_.size() && containers_[i]->path == path && containers_[i]->alive) {
      c = std::move(containers_[i++]);
    } else {
      if (i < containers_.size() && containers_[i]->path == path) ++i;  // dead: reopen
      c = std::make_unique<Container>();
      c->path = path;
      ++stats_.containers_added;
    }
    next.push_back(std::move(c));
  }
  stats_.containers_removed += containers_.size() - i;
  // Removed containers close their files first, so the budget they free goes to the others.
  containers_ = std::move(next);
  // Retry files still missing: hierarchies are populated one after another.
  for (auto& c : containers_) OpenFiles(c.get());
}

std::string CgroupSampler::DirOf(const Container& c, const std::string& hierarchy) const {
  std::string dir = options_.layout.MountOf(hierarchy);
  if (dir.empty()) return dir;
  if (!options_.root.empty()) dir += "/" + options_.root;
  if (!c.path.empty()) dir += "/" + c.path;
  return dir;
}

void CgroupSampler::OpenFiles(Container* c) {
  const std::string primary = hierarchies_.empty() ? "" : hierarchies_.front();
  if (c->cgroup_id == 0) c->cgroup_id = InodeOf(DirOf(*c, primary));
  if (c->socket_cgroup_id == 0 && options_.layout.has("unified")) {
    c->socket_cgroup_id = InodeOf(DirOf(*c, "unified"));
  }
  if (options_.layout.uses_v1() && !c->has_procs) {
    c->has_procs = access((DirOf(*c, primary) + "/cgroup.procs").c_str(), R_OK) == 0;
  }
  if (c->reader != nullptr) {
    c->reader->OpenMore();
    return;
  }
  rc::UsageReader::Options o;
  o.io = options_.io;
  o.psi = options_.psi;
  o.v1_cpu_split_from_cpuacct_stat = true;  // the agent has always reported cpuacct.stat's split
  o.partial = true;
  o.budget = &budget_;
  auto reader = rc::UsageReader::Open(fs_, usage_layout_, c->path, o);
  if (reader.ok()) {
    c->reader = std::move(*reader);
  } else {
    ++stats_.read_errors;  // a partial Open fails only for a path rc cannot name
    RCBENCH_LOG(DEBUG) << "container " << c->path << ": " << reader.status();
  }
}

bool CgroupSampler::needs_socket_inodes() const {
  if (!options_.layout.uses_v1()) return false;
  for (const auto& c : containers_) {
    if (c->has_procs) return true;
  }
  return false;
}

void CgroupSampler::CountSockets(const Container& c, bool empty, const SocketTable& sockets,
                                 TcpStateCounts* counts) {
  if (empty) return;  // empty containers hold no sockets: skip the /proc walk
  const std::string file =
      DirOf(c, hierarchies_.empty() ? "" : hierarchies_.front()) + "/cgroup.procs";
  auto content = fs_.ReadFile(file);
  auto pids = content.ok() ? rc::ParseIdList(*content, file) : content.status();
  if (!pids.ok()) {
    if (!absl::IsNotFound(pids.status())) ++stats_.read_errors;
    return;
  }
  CountSocketsOfPids(*pids, sockets, options_.proc_dir, counts);
}

size_t CgroupSampler::Sample(const std::string& host, const SocketTable* sockets,
                             google::protobuf::RepeatedPtrField<ContainerUsage>* out) {
  size_t not_sampled = 0;
  const bool v1 = options_.layout.uses_v1();
  const int64_t base_mono = clock_->MonotonicNanos();
  const int64_t base_wall =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_->Now().time_since_epoch())
          .count();
  out->Reserve(out->size() + static_cast<int>(containers_.size()));
  for (auto& cp : containers_) {
    Container* c = cp.get();
    if (!c->alive || c->reader == nullptr) continue;
    const int64_t mono = clock_->MonotonicNanos();
    rc::PartialRead r;
    c->reader->ReadPartial(&usage_, &r);
    stats_.preads += r.preads;
    stats_.reopens += r.reopens;
    stats_.read_errors += r.failed + r.malformed;
    if (r.files_changed) rescan_needed_ = true;
    if (r.gone) {
      c->alive = false;
      rescan_needed_ = true;
      continue;
    }
    if (r.failed > 0 && r.files_read == 0) {
      // Nothing could be read: a report of zeros would look like a counter reset.
      ++not_sampled;
      continue;
    }
    ContainerUsage* u = out->Add();
    u->mutable_id()->set_host(host);
    u->mutable_id()->set_path(c->path);
    u->mutable_id()->set_cgroup_id(c->cgroup_id);
    u->mutable_time()->set_monotonic_ns(mono);
    const int64_t wall = base_wall + (mono - base_mono);
    u->mutable_time()->mutable_wall()->set_seconds(wall / 1'000'000'000);
    u->mutable_time()->mutable_wall()->set_nanos(static_cast<int32_t>(wall % 1'000'000'000));
    rc::FillUsage(usage_, u);
    if (sockets == nullptr) continue;
    bool sockets_ok = false;
    TcpStateCounts counts{};
    auto it = c->socket_cgroup_id != 0 ? sockets->by_cgroup.find(c->socket_cgroup_id)
                                       : sockets->by_cgroup.end();
    if (it != sockets->by_cgroup.end()) {
      counts = it->second;
      sockets_ok = true;
    } else if (!v1) {
      sockets_ok = c->socket_cgroup_id != 0;  // a v2 cgroup with no sockets
    } else if (c->has_procs) {
      sockets_ok = true;
      CountSockets(*c, usage_.Has("pids") && usage_.pids_current == 0, *sockets, &counts);
    }
    if (sockets_ok) {
      auto* m = u->mutable_tcp_sockets();
      for (int s = 1; s < kTcpStateCount; ++s) {
        if (counts[s] != 0) (*m)[TcpStateName(s)] = counts[s];
      }
      u->add_available("sockets");
    }
  }
  stats_.containers_not_sampled += not_sampled;
  return not_sampled;
}

std::vector<std::string> CgroupSampler::OpenFilePaths() const {
  std::vector<std::string> paths;
  for (const auto& c : containers_) {
    if (c->reader == nullptr) continue;
    for (std::string& p : c->reader->OpenFilePaths()) paths.push_back(std::move(p));
  }
  return paths;
}

}  // namespace rcbench::agent
