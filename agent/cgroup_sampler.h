#pragma once

// Discovers the containers (cgroups) under the agent's root subtree and samples each through an
// rc::UsageReader (rc/ is the one model of cgroup usage: which files, how they are parsed),
// converting with rc::FillUsage. Up to a budget of files (SamplerOptions::max_open_files) are
// opened once, when their container is discovered, and re-read with one pread(2) per sample;
// nothing is opened, stat'ed or listed per sample for them unless the tree changed. Files beyond
// the budget are read with open/read/close each sample (slower, but the agent never runs out of
// descriptors), and move to the fast path when kept-open files of removed containers free the
// budget. A file that is missing, unreadable or malformed leaves its group out of the
// container's `available` and is counted (SamplerStats::read_errors).
//
// A container none of whose files could be read in a sample (e.g. EMFILE) is left out of that
// sample and counted (Sample's result, SamplerStats::containers_not_sampled). A walk of the
// subtree that fails part way (other than a directory vanishing) keeps the containers known
// before and is retried at the next sample (SamplerStats::walk_errors).
//
// Discovery: inotify watches on every directory of the subtree in every hierarchy read (and on
// the ancestors of the root, so a root created later is found). Pending events are drained
// once per sample (one non-blocking read); any relevant event triggers a rescan of the subtree
// before that sample, so containers created or removed are noticed within one interval. When
// inotify is unavailable (or the queue overflows) the subtree is rescanned every sample.
//
// Not thread-safe: one sampling thread owns it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "agent/cgroup_layout.h"
#include "agent/sock_diag.h"
#include "common/clock.h"
#include "google/protobuf/repeated_field.h"
#include "rc/attributes.h"
#include "rc/cgroup_fs.h"
#include "rc/host_layout.h"
#include "rc/usage_reader.h"
#include "rcbench/v1/agent.pb.h"

namespace rcbench::agent {

struct SamplerOptions {
  CgroupLayout layout;
  // The root subtree, relative to each hierarchy's mount point ("rcbench", "a/b"); "" or "/"
  // samples the whole hierarchy. Container paths are reported relative to it.
  std::string root = "rcbench";
  bool io = true;
  bool psi = true;
  bool use_inotify = true;
  // Where /PID/fd lives, for v1 socket attribution.
  std::string proc_dir = "/proc";
  // Cgroup files kept open across samples. 0: DefaultOpenFileBudget() (half of RLIMIT_NOFILE).
  uint64_t max_open_files = 0;
};

// Counters about the sampler itself, cumulative.
struct SamplerStats {
  uint64_t rescans = 0;
  uint64_t read_errors = 0;  // a file that could not be read or parsed (malformed)
  uint64_t containers_added = 0;
  uint64_t containers_removed = 0;
  uint64_t preads = 0;
  uint64_t reopens = 0;                 // open/read/close of files beyond the budget
  uint64_t walk_errors = 0;             // subtree walks that failed part way (kept the old list)
  uint64_t containers_not_sampled = 0;  // container-samples left out: no file could be read
};

class CgroupSampler {
 public:
  // INVALID_ARGUMENT for a root that escapes the hierarchy; the root need not exist yet.
  static absl::StatusOr<std::unique_ptr<CgroupSampler>> Create(SamplerOptions options,
                                                               Clock* clock);
  ~CgroupSampler();
  CgroupSampler(const CgroupSampler&) = delete;
  CgroupSampler& operator=(const CgroupSampler&) = delete;

  // Applies pending inotify events (rescanning if any was relevant). Cheap when nothing
  // changed: one failed non-blocking read.
  void Refresh();
  // Walks the whole subtree now.
  void Rescan();

  // Appends one ContainerUsage per live container to *out (sorted by path). `sockets`, when
  // given, is this interval's dump: counts are attributed by socket cgroup id where the
  // container has a cgroup2 directory, else (v1) through its processes. Returns how many
  // containers could not be sampled (left out of *out).
  size_t Sample(const std::string& host, const SocketTable* sockets,
                google::protobuf::RepeatedPtrField<rcbench::v1::ContainerUsage>* out);

  size_t container_count() const { return containers_.size(); }
  // Cgroup files currently kept open, and the budget for them.
  size_t open_file_count() const { return budget_.open; }
  uint64_t open_file_budget() const { return options_.max_open_files; }
  // True when socket attribution needs socket inodes (some container has no cgroup2 dir).
  bool needs_socket_inodes() const;
  const SamplerStats& stats() const { return stats_; }
  const SamplerOptions& options() const { return options_; }
  // Paths of every file kept open, for measuring the raw cost of reading the same files.
  std::vector<std::string> OpenFilePaths() const;

 private:
  struct Container;
  CgroupSampler(SamplerOptions options, Clock* clock);
  void WatchAncestors();
  // False when a directory could not be listed for a reason other than it having gone.
  bool Walk(const std::string& hierarchy, const std::string& dir, const std::string& rel,
            absl::flat_hash_map<std::string, int>* found);
  std::string DirOf(const Container& c, const std::string& hierarchy) const;
  void OpenFiles(Container* c);
  void CountSockets(const Container& c, bool empty, const SocketTable& sockets,
                    TcpStateCounts* counts);

  SamplerOptions options_;
  Clock* clock_;
  // rc's layout with the agent's root as every hierarchy's subtree; paths are real, so the
  // readers open them through fs_ (no root prefix).
  rc::HostLayout usage_layout_;
  rc::LocalCgroupFs fs_;
  rc::OpenFileBudget budget_;
  std::vector<std::string> hierarchies_;                // controller names whose subtree is walked
  std::vector<std::unique_ptr<Container>> containers_;  // sorted by path; after budget_ and fs_
  int inotify_fd_ = -1;
  bool rescan_needed_ = true;
  // Watches on the root's ancestors: only events naming the next component matter.
  absl::flat_hash_map<int, std::string> ancestor_watches_;
  SamplerStats stats_;
  rc::Usage usage_;  // reused by every container's read
};

}  // namespace rcbench::agent
