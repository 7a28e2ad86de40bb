#pragma once

// The agent's journal: what it holds on the host right now, so a later agent can clean up
// after one that was killed (agent/reconcile.h). It lists the containers this agent created
// (path, owner) and the services it started that are still running (name, pid, process start
// time, process group, owner, container). It only lists live things, so it stays small.
//
// Journal keeps the lists in memory and, when it has a file, rewrites that file atomically
// (a temporary file, then rename) on every change. Thread-safe. Write errors are returned
// (INTERNAL naming the file) and leave the memory state changed: the caller logs them, since
// the change on the host has already happened.
//
// File format, one record per line, fields separated by tabs and C-escaped (absl::CEscape):
//   # rcbench-agent journal v1
//   container <path> <owner>
//   service <name> <pid> <start time> <process group> <owner> <container>
// The start time is field 22 of /proc/PID/stat (clock ticks since boot): a pid reused by
// another process has another start time.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::agent {

struct JournalContainer {
  std::string path;
  std::string owner;
  bool operator==(const JournalContainer& o) const { return path == o.path && owner == o.owner; }
};

struct JournalService {
  std::string name;
  pid_t pid = 0;
  uint64_t start_time_ticks = 0;
  pid_t process_group = 0;
  std::string owner;
  std::string container;
  bool operator==(const JournalService& o) const {
    return name == o.name && pid == o.pid && start_time_ticks == o.start_time_ticks &&
           process_group == o.process_group && owner == o.owner && container == o.container;
  }
};

struct JournalState {
  std::vector<JournalContainer> containers;  // by path
  std::vector<JournalService> services;      // by name
  bool empty() const { return containers.empty() && services.empty(); }
};

std::string FormatJournal(const JournalState& state);
// Parses a journal's text. A line that cannot be parsed is skipped, and a warning naming
// `file_name` and the line number is appended to `warnings`; parsing never fails.
JournalState ParseJournal(absl::string_view text, absl::string_view file_name,
                          std::vector<std::string>* warnings);

// The fields of /proc/PID/stat the journal needs.
struct ProcStat {
  char state = '?';  // R, S, D, Z, ...
  pid_t process_group = 0;
  uint64_t start_time_ticks = 0;
};
// Parses the text of /proc/PID/stat (the command name may hold spaces and parentheses).
// INVALID_ARGUMENT if malformed.
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text);
// Reads `proc_dir`/PID/stat. NOT_FOUND when there is no such process.
absl::StatusOr<ProcStat> ReadProcStat(const std::string& proc_dir, pid_t pid);
// True when `pid` is alive (not a zombie) and started at `start_time_ticks`: the process the
// journal recorded, not another one that reused its pid.
bool IsSameLiveProcess(const std::string& proc_dir, pid_t pid, uint64_t start_time_ticks);

// Orders container paths deepest first (children before parents), then by path.
void SortDeepestFirst(std::vector<std::string>* paths);

class Journal {
 public:
  // `path` "" keeps the journal in memory only. Otherwise the file is written now (empty).
  explicit Journal(std::string path);

  const std::string& path() const { return path_; }
  // The first error of the initial write, if any.
  absl::Status init_status() const { return init_status_; }

  // Records a container this agent created, with its owner ("" = none).
  absl::Status RecordContainer(absl::string_view path, absl::string_view owner);
  // Forgets `path` (and with `descendants` every container below it).
  absl::Status ForgetContainer(absl::string_view path, bool descendants);
  // The recorded owner of `path`, "" if none or not recorded.
  std::string ContainerOwner(absl::string_view path) const;
  // The containers recorded for `owner`, deepest first.
  std::vector<std::string> ContainersOwnedBy(absl::string_view owner) const;

  absl::Status RecordService(const JournalService& service);
  // Forgets service `name` if it is still recorded with `pid` (a newer start keeps its entry).
  absl::Status ForgetService(absl::string_view name, pid_t pid);

  JournalState Snapshot() const;

  // A clean shutdown: removes the file; later changes are kept in memory only.
  absl::Status Close();

 private:
  absl::Status WriteLocked();

  std::string path_;
  absl::Status init_status_;
  mutable std::mutex mu_;
  bool closed_ = false;
  std::map<std::string, std::string, std::less<>> containers_;  // path -> owner
  std::map<std::string, JournalService, std::less<>> services_;
};

}  // namespace rcbench::agent
