#pragma once

// Cleans up after a previous agent that was killed: reads the journal it left in the state
// directory (agent/journal.h) and undoes exactly what the journal lists, nothing else (other
// agents may share the root subtree's name on this host).
//
//   1. Each journaled service whose pid is alive and still has the recorded start time (so a
//      reused pid is never signalled) gets SIGTERM to its process group, SIGKILL after the
//      grace period.
//   2. Each journaled container that still exists is deleted, deepest first, when it has no
//      processes; one that still has processes (or children not in the journal) is kept.
//
// Every action is logged at INFO as one "reconcile: ..." line, then a summary; a journal that
// lists nothing still logs "reconcile: nothing left by a previous agent". Corrupt journal lines
// are skipped with a warning naming the file and line. Not thread-safe with other users of
// `admin` creating the same paths; run it before serving.

#include <chrono>
#include <string>
#include <vector>

#include "agent/container_admin.h"
#include "agent/journal.h"

namespace rcbench::agent {

struct ReconcileOptions {
  std::string proc_dir = "/proc";
  // SIGTERM, then SIGKILL after this.
  std::chrono::nanoseconds grace = std::chrono::seconds(2);
};

// Reconciles against the journal file at `journal_path`; no file: nothing to do (returns an
// empty list, logs nothing). `admin` may be null (containers are then kept). Returns the
// lines it logged, for tests. Never fails: what cannot be undone is logged and kept.
std::vector<std::string> ReconcileJournal(const std::string& journal_path, ContainerAdmin* admin,
                                          const ReconcileOptions& options = {});

// The same against an already parsed journal.
std::vector<std::string> Reconcile(const JournalState& previous, ContainerAdmin* admin,
                                   const ReconcileOptions& options = {});

}  // namespace rcbench::agent
