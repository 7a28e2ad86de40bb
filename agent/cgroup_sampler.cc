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
#include "agent/cgroup_parse.h"
#include "agent/container_path.h"
#include "agent/fd_budget.h"
#include "common/logging.h"

namespace rcbench::agent {
namespace {

using rcbench::v1::ContainerUsage;

enum Kind {
  kCpuStat,       // v2: usage/user/system + throttling; v1 (cpu): throttling only
  kCpuacctUsage,  // v1
  kCpuacctStat,   // v1
  kMemUsage,      // memory.current / memory.usage_in_bytes
  kMemStat,       // memory.stat
  kMemPeak,       // memory.peak / memory.max_usage_in_bytes
  kPids,          // pids.current
  kIoStat,        // v2 io.stat
  kBlkioBytes,    // v1
  kBlkioOps,      // v1
  kCpuPressure,
  kMemPressure,
  kIoPressure,
  kProcs,  // cgroup.procs of the v1 primary hierarchy (socket attribution only)
  kKindCount
};

struct FileSpec {
  const char* controller;  // hierarchy
  const char* name;
};

// Which file each kind is on a v2 host, and on a v1/hybrid host. nullptr: not read.
constexpr std::array<FileSpec, kKindCount> kV2Files = {{
    {"unified", "cpu.stat"},
    {nullptr, nullptr},
    {nullptr, nullptr},
    {"unified", "memory.current"},
    {"unified", "memory.stat"},
    {"unified", "memory.peak"},
    {"unified", "pids.current"},
    {"unified", "io.stat"},
    {nullptr, nullptr},
    {nullptr, nullptr},
    {"unified", "cpu.pressure"},
    {"unified", "memory.pressure"},
    {"unified", "io.pressure"},
    {nullptr, nullptr},
}};
constexpr std::array<FileSpec, kKindCount> kV1Files = {{
    {"cpu", "cpu.stat"},
    {"cpuacct", "cpuacct.usage"},
    {"cpuacct", "cpuacct.stat"},
    {"memory", "memory.usage_in_bytes"},
    {"memory", "memory.stat"},
    {"memory", "memory.max_usage_in_bytes"},
    {"pids", "pids.current"},
    {nullptr, nullptr},
    {"blkio", "blkio.throttle.io_service_bytes_recursive"},
    {"blkio", "blkio.throttle.io_serviced_recursive"},
    // PSI exists only in cgroup2: on hybrid hosts, from the container's unified directory.
    {"unified", "cpu.pressure"},
    {"unified", "memory.pressure"},
    {"unified", "io.pressure"},
    {"", "cgroup.procs"},  // "" = the primary v1 hierarchy
}};

bool IsIoKind(int k) { return k == kIoStat || k == kBlkioBytes || k == kBlkioOps; }
bool IsPsiKind(int k) { return k == kCpuPressure || k == kMemPressure || k == kIoPressure; }

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

void SetPressure(const PressureTotals& p, rcbench::v1::Pressure* out) {
  out->set_some_total_us(p.some_total_us);
  out->set_full_total_us(p.full_total_us);
}

}  // namespace

struct CgroupSampler::Container {
  std::string path;
  uint64_t cgroup_id = 0;
  uint64_t socket_cgroup_id = 0;
  std::array<int, kKindCount> fds;
  // Files that exist but are read with open/read/close (beyond the open-file budget).
  std::array<bool, kKindCount> reopen{};
  bool alive = true;
  size_t* open_count;  // the sampler's count of kept-open files
  explicit Container(size_t* count) : open_count(count) { fds.fill(-1); }
  ~Container() {
    for (int fd : fds) {
      if (fd >= 0) {
        close(fd);
        --*open_count;
      }
    }
  }
};

CgroupSampler::CgroupSampler(SamplerOptions options, Clock* clock)
    : options_(std::move(options)), clock_(clock), buf_(16 * 1024) {
  options_.root = NormalizeRoot(options_.root);
  long tck = sysconf(_SC_CLK_TCK);
  if (tck > 0) ticks_per_second_ = tck;
  if (options_.layout.uses_v1()) {
    for (const char* c : kV1Controllers) {
      if (options_.layout.has(c)) hierarchies_.push_back(c);
    }
  }
  if (options_.layout.has("unified")) hierarchies_.push_back("unified");
  if (options_.max_open_files == 0) options_.max_open_files = DefaultOpenFileBudget();
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
      c = std::make_unique<Container>(&open_files_);
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

std::string CgroupSampler::DirOf(const Container& c, const char* controller) const {
  std::string h = controller;
  if (h.empty()) h = hierarchies_.empty() ? "" : hierarchies_.front();
  std::string dir = options_.layout.MountOf(h);
  if (dir.empty()) return dir;
  if (!options_.root.empty()) dir += "/" + options_.root;
  if (!c.path.empty()) dir += "/" + c.path;
  return dir;
}

void CgroupSampler::OpenFiles(Container* c) {
  const auto& specs = options_.layout.uses_v1() ? kV1Files : kV2Files;
  auto dir_of = [&](const char* controller) { return DirOf(*c, controller); };
  if (c->cgroup_id == 0) c->cgroup_id = InodeOf(dir_of(""));
  if (c->socket_cgroup_id == 0 && options_.layout.has("unified")) {
    c->socket_cgroup_id = InodeOf(dir_of("unified"));
  }
  for (int k = 0; k < kKindCount; ++k) {
    if (c->fds[k] >= 0 || specs[k].name == nullptr) continue;
    if (!options_.io && IsIoKind(k)) continue;
    if (!options_.psi && IsPsiKind(k)) continue;
    std::string dir = dir_of(specs[k].controller);
    if (dir.empty()) continue;
    const std::string file = dir + "/" + specs[k].name;
    if (open_files_ < options_.max_open_files) {
      c->fds[k] = open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (c->fds[k] >= 0) {
        ++open_files_;
        c->reopen[k] = false;
        continue;
      }
      if (errno == ENOENT) c->reopen[k] = false;
      // Out of descriptors: keep it for open/read/close at sample time, which reports it.
      if (errno == EMFILE || errno == ENFILE) c->reopen[k] = true;
    } else if (!c->reopen[k]) {
      c->reopen[k] = access(file.c_str(), R_OK) == 0;
    }
  }
}

bool CgroupSampler::ReadFile(Container* c, int kind, absl::string_view* text) {
  int fd = c->fds[kind];
  ssize_t n = -1;
  if (fd >= 0) {
    ++stats_.preads;
    n = pread(fd, buf_.data(), buf_.size() - 1, 0);
  } else if (c->reopen[kind]) {
    const auto& specs = options_.layout.uses_v1() ? kV1Files : kV2Files;
    const std::string dir = DirOf(*c, specs[kind].controller);
    ++stats_.reopens;
    fd = open((dir + "/" + specs[kind].name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      // The container went away, or just this file (a controller disabled).
      if (access(dir.c_str(), F_OK) != 0) {
        c->alive = false;
      } else {
        c->reopen[kind] = false;
      }
      rescan_needed_ = true;
      return false;
    }
    if (fd >= 0) {
      n = read(fd, buf_.data(), buf_.size() - 1);
      const int read_errno = errno;
      close(fd);
      errno = read_errno;
    }
  } else {
    return false;  // the container has no such file
  }
  if (n < 0) {
    if (errno == ENODEV || errno == ENOENT || errno == ESTALE) {
      c->alive = false;
      rescan_needed_ = true;
    } else {
      ++stats_.read_errors;
      ++read_failures_;
    }
    return false;
  }
  ++read_successes_;
  *text = absl::string_view(buf_.data(), static_cast<size_t>(n));
  return true;
}

bool CgroupSampler::needs_socket_inodes() const {
  if (!options_.layout.uses_v1()) return false;
  for (const auto& c : containers_) {
    if (c->fds[kProcs] >= 0 || c->reopen[kProcs]) return true;
  }
  return false;
}

size_t CgroupSampler::Sample(const std::string& host, const SocketTable* sockets,
                             google::protobuf::RepeatedPtrField<ContainerUsage>* out) {
  size_t not_sampled = 0;
  const bool v1 = options_.layout.uses_v1();
  const int64_t base_mono = clock_->MonotonicNanos();
  const int64_t base_wall =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_->Now().time_since_epoch())
          .count();
  const uint64_t ns_per_tick = 1'000'000'000ull / static_cast<uint64_t>(ticks_per_second_);
  out->Reserve(out->size() + static_cast<int>(containers_.size()));
  for (auto& cp : containers_) {
    Container* c = cp.get();
    if (!c->alive) continue;
    const uint64_t failures0 = read_failures_, successes0 = read_successes_;
    ContainerUsage* u = out->Add();
    u->mutable_id()->set_host(host);
    u->mutable_id()->set_path(c->path);
    u->mutable_id()->set_cgroup_id(c->cgroup_id);
    const int64_t mono = clock_->MonotonicNanos();
    u->mutable_time()->set_monotonic_ns(mono);
    const int64_t wall = base_wall + (mono - base_mono);
    u->mutable_time()->mutable_wall()->set_seconds(wall / 1'000'000'000);
    u->mutable_time()->mutable_wall()->set_nanos(static_cast<int32_t>(wall % 1'000'000'000));
    bool cpu_ok = false, mem_ok = false, io_ok = false, psi_ok = false;
    bool pids_ok = false;
    absl::string_view t;

    if (ReadFile(c, kCpuStat, &t)) {
      bool ok = ForEachKeyedValue(t, [&](absl::string_view k, uint64_t v) {
        if (v1) {
          if (k == "nr_periods") u->set_cpu_periods(v);
          if (k == "nr_throttled") u->set_cpu_throttled_periods(v);
          if (k == "throttled_time") u->set_cpu_throttled_ns(v);
          return;
        }
        if (k == "usage_usec") u->set_cpu_usage_ns(v * 1000), cpu_ok = true;
        if (k == "user_usec") u->set_cpu_user_ns(v * 1000);
        if (k == "system_usec") u->set_cpu_system_ns(v * 1000);
        if (k == "nr_periods") u->set_cpu_periods(v);
        if (k == "nr_throttled") u->set_cpu_throttled_periods(v);
        if (k == "throttled_usec") u->set_cpu_throttled_ns(v * 1000);
      });
      if (!ok) ++stats_.read_errors, cpu_ok = false;
    }
    if (v1 && ReadFile(c, kCpuacctUsage, &t)) {
      auto v = ParseSingleValue(t);
      if (v) {
        u->set_cpu_usage_ns(*v);
        cpu_ok = true;
      } else {
        ++stats_.read_errors;
      }
    }
    if (v1 && ReadFile(c, kCpuacctStat, &t)) {
      auto user = FindKeyedValue(t, "user");
      auto system = FindKeyedValue(t, "system");
      if (user && system) {
        u->set_cpu_user_ns(*user * ns_per_tick);
        u->set_cpu_system_ns(*system * ns_per_tick);
      } else {
        ++stats_.read_errors;
      }
    }
    if (!c->alive) {
      out->RemoveLast();
      continue;
    }
    if (ReadFile(c, kMemUsage, &t)) {
      auto v = ParseSingleValue(t);
      if (v) {
        u->set_memory_usage_bytes(*v);
        u->set_memory_working_set_bytes(*v);
        mem_ok = true;
      } else {
        ++stats_.read_errors;
      }
    }
    if (mem_ok && ReadFile(c, kMemStat, &t)) {
      auto inactive = FindKeyedValue(t, v1 ? "total_inactive_file" : "inactive_file");
      if (inactive) {
        uint64_t usage = u->memory_usage_bytes();
        u->set_memory_working_set_bytes(usage > *inactive ? usage - *inactive : 0);
      } else {
        ++stats_.read_errors;
      }
    }
    if (ReadFile(c, kMemPeak, &t)) {
      auto v = ParseSingleValue(t);
      if (v) {
        u->set_memory_peak_bytes(*v);
      } else {
        ++stats_.read_errors;
      }
    }
    if (ReadFile(c, kPids, &t)) {
      auto v = ParseSingleValue(t);
      if (v) {
        u->set_pids_current(*v);
        pids_ok = true;
      } else {
        ++stats_.read_errors;
      }
    }
    if (ReadFile(c, kIoStat, &t)) {
      IoTotals io;
      if (ParseIoStat(t, &io)) {
        u->set_io_read_bytes(io.read_bytes);
        u->set_io_write_bytes(io.write_bytes);
        u->set_io_read_ops(io.read_ops);
        u->set_io_write_ops(io.write_ops);
        io_ok = true;
      } else {
        ++stats_.read_errors;
      }
    }
    if (ReadFile(c, kBlkioBytes, &t)) {
      uint64_t r = 0, w = 0;
      if (ParseBlkioFile(t, &r, &w)) {
        u->set_io_read_bytes(r);
        u->set_io_write_bytes(w);
        io_ok = true;
      } else {
        ++stats_.read_errors;
      }
    }
    if (ReadFile(c, kBlkioOps, &t)) {
      uint64_t r = 0, w = 0;
      if (ParseBlkioFile(t, &r, &w)) {
        u->set_io_read_ops(r);
        u->set_io_write_ops(w);
      } else {
        ++stats_.read_errors;
      }
    }
    static constexpr std::array<int, 3> kPsiKinds = {kCpuPressure, kMemPressure, kIoPressure};
    for (int k : kPsiKinds) {
      if (!ReadFile(c, k, &t)) continue;
      PressureTotals p;
      if (!ParsePressure(t, &p)) {
        ++stats_.read_errors;
        continue;
      }
      psi_ok = true;
      SetPressure(p, k == kCpuPressure   ? u->mutable_cpu_pressure()
                     : k == kMemPressure ? u->mutable_memory_pressure()
                                         : u->mutable_io_pressure());
    }
    if (!c->alive) {
      out->RemoveLast();
      continue;
    }
    if (read_failures_ != failures0 && read_successes_ == successes0) {
      // Nothing could be read: a report of zeros would look like a counter reset.
      out->RemoveLast();
      ++not_sampled;
      continue;
    }
    bool sockets_ok = false;
    if (sockets != nullptr) {
      TcpStateCounts counts{};
      auto it = c->socket_cgroup_id != 0 ? sockets->by_cgroup.find(c->socket_cgroup_id)
                                         : sockets->by_cgroup.end();
      if (it != sockets->by_cgroup.end()) {
        counts = it->second;
        sockets_ok = true;
      } else if (!v1) {
        sockets_ok = c->socket_cgroup_id != 0;  // a v2 cgroup with no sockets
      } else if (c->fds[kProcs] >= 0 || c->reopen[kProcs]) {
        sockets_ok = true;
        // Empty containers hold no sockets: skip the /proc walk.
        if (!(pids_ok && u->pids_current() == 0) && ReadFile(c, kProcs, &t)) {
          pids_scratch_.clear();
          for (absl::string_view line : absl::StrSplit(t, '\n', absl::SkipEmpty())) {
            uint64_t pid = 0;
            if (ConsumeUint(&line, &pid) && line.empty()) {
              pids_scratch_.push_back(static_cast<int>(pid));
            }
          }
          CountSocketsOfPids(pids_scratch_, *sockets, options_.proc_dir, &counts);
        }
      }
      if (sockets_ok) {
        auto* m = u->mutable_tcp_sockets();
        for (int s = 1; s < kTcpStateCount; ++s) {
          if (counts[s] != 0) (*m)[TcpStateName(s)] = counts[s];
        }
      }
    }
    if (cpu_ok) u->add_available("cpu");
    if (mem_ok) u->add_available("memory");
    if (pids_ok) u->add_available("pids");
    if (io_ok) u->add_available("io");
    if (psi_ok) u->add_available("psi");
    if (sockets_ok) u->add_available("sockets");
  }
  stats_.containers_not_sampled += not_sampled;
  return not_sampled;
}

std::vector<std::string> CgroupSampler::OpenFilePaths() const {
  const auto& specs = options_.layout.uses_v1() ? kV1Files : kV2Files;
  std::vector<std::string> paths;
  for (const auto& c : containers_) {
    for (int k = 0; k < kKindCount; ++k) {
      if (c->fds[k] < 0 || k == kProcs) continue;
      std::string dir = options_.layout.MountOf(specs[k].controller);
      if (!options_.root.empty()) dir += "/" + options_.root;
      if (!c->path.empty()) dir += "/" + c->path;
      paths.push_back(dir + "/" + specs[k].name);
    }
  }
  return paths;
}

}  // namespace rcbench::agent
