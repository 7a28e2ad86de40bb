#include "agent/reconcile.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace rcbench::agent {
namespace {

// Waits until `pid` is no longer the journaled live process, at most `limit`.
bool WaitGone(const std::string& proc_dir, const JournalService& s,
              std::chrono::nanoseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (!IsSameLiveProcess(proc_dir, s.pid, s.start_time_ticks)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string OwnerNote(const std::string& owner) {
  return owner.empty() ? "no owner" : absl::StrCat("owner ", owner);
}

}  // namespace

std::vector<std::string> Reconcile(const JournalState& previous, ContainerAdmin* admin,
                                   const ReconcileOptions& options) {
  std::vector<std::string> lines;
  auto log = [&lines](std::string line) {
    RCBENCH_LOG(INFO) << line;
    lines.push_back(std::move(line));
  };
  int stopped = 0, removed = 0, kept = 0;

  for (const JournalService& s : previous.services) {
    if (!IsSameLiveProcess(options.proc_dir, s.pid, s.start_time_ticks)) continue;
    auto st = ReadProcStat(options.proc_dir, s.pid);
    // Signal the whole group only while the journaled process still leads it.
    const pid_t target = st.ok() && st->process_group == s.process_group ? -s.process_group : s.pid;
    const char* how = "SIGTERM";
    if (kill(target, SIGTERM) != 0 && errno != ESRCH) {
      log(absl::StrCat("reconcile: cannot signal service ", s.name, " (pid ", s.pid,
                       "): ", std::strerror(errno)));
      continue;
    }
    if (!WaitGone(options.proc_dir, s, options.grace)) {
      if (IsSameLiveProcess(options.proc_dir, s.pid, s.start_time_ticks)) kill(target, SIGKILL);
      how = "SIGKILL";
      if (!WaitGone(options.proc_dir, s, std::chrono::seconds(5))) {
        log(absl::StrCat("reconcile: service ", s.name, " (pid ", s.pid, ", ", OwnerNote(s.owner),
                         ") left by a previous agent survived SIGKILL"));
        continue;
      }
    }
    ++stopped;
    log(absl::StrCat("reconcile: stopped service ", s.name, " (pid ", s.pid, ", ",
                     OwnerNote(s.owner), ") left by a previous agent, with ", how));
  }

  std::vector<std::string> paths;
  std::map<std::string, std::string> owners;
  for (const JournalContainer& c : previous.containers) {
    paths.push_back(c.path);
    owners[c.path] = c.owner;
  }
  SortDeepestFirst(&paths);
  for (const std::string& path : paths) {
    const std::string note = OwnerNote(owners[path]);
    if (admin == nullptr) {
      ++kept;
      log(absl::StrCat("reconcile: kept container ", path, " (", note,
                       "): this agent does not administer containers"));
      continue;
    }
    auto list = admin->List(path);
    if (!list.ok()) {
      ++kept;
      log(absl::StrCat("reconcile: kept container ", path, " (", note,
                       "): ", list.status().message()));
      continue;
    }
    const rcbench::v1::ContainerInfo* self = nullptr;
    for (const auto& info : *list) {
      if (info.id().path() == path) self = &info;
    }
    if (self == nullptr) continue;  // already gone
    if (self->pids_size() > 0) {
      ++kept;
      log(absl::StrCat("reconcile: kept container ", path, " (", note, "): ", self->pids_size(),
                       " processes still in it"));
      continue;
    }
    if (absl::Status s = admin->Delete(path, /*recursive=*/false); !s.ok()) {
      ++kept;
      log(absl::StrCat("reconcile: kept container ", path, " (", note, "): ", s.message()));
      continue;
    }
    ++removed;
    log(absl::StrCat("reconcile: removed container ", path, " (", note, ")"));
  }

  if (stopped == 0 && removed == 0 && kept == 0) {
    log("reconcile: nothing left by a previous agent");
  } else {
    log(absl::StrCat("reconcile: stopped ", stopped, " services, removed ", removed,
                     " containers, kept ", kept, " containers left by a previous agent"));
  }
  return lines;
}

std::vector<std::string> ReconcileJournal(const std::string& journal_path, ContainerAdmin* admin,
                                          const ReconcileOptions& options) {
  std::ifstream in(journal_path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<std::string> warnings;
  JournalState previous = ParseJournal(ss.str(), journal_path, &warnings);
  for (const std::string& w : warnings) RCBENCH_LOG(WARNING) << "reconcile: " << w;
  return Reconcile(previous, admin, options);
}

}  // namespace rcbench::agent
