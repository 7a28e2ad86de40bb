#pragma once

// Test helpers that make real results-store files, and damage them as a failing disk would.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "controller/store.h"

namespace rcbench::controller::testing {

inline constexpr int64_t kStorePageSize = 4096;  // SQLite's default

// Writes a closed store at `path` holding experiment "e" with `n` completed runs ("e-0"...),
// a few runs per page; returns the file's size in pages (the WAL is checkpointed into it).
inline int64_t StoreFileWithRuns(const std::string& path, int n) {
  std::vector<PlannedRun> runs;
  for (int i = 0; i < n; ++i) {
    runs.push_back({"e-" + std::to_string(i), static_cast<uint32_t>(i), 1, {{"f", "x"}}});
  }
  auto store = SqliteResultStore::Open(path);
  if (!store.ok()) return -1;
  if (!(*store)->AddExperiment({"e", "name: e\nfactors: {f: [x]}\n", 5, "now"}, runs).ok()) {
    return -1;
  }
  for (const auto& r : runs) {
    RunOutcome o;
    o.run_id = r.run_id;
    o.classes.emplace_back().set_class_name(std::string(600, 'c'));
    if (!(*store)->MarkRunning(r.run_id, 1, {}).ok() || !(*store)->CompleteRun(o).ok()) return -1;
  }
  if (!(*store)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok()) return -1;
  store->reset();
  return static_cast<int64_t>(std::filesystem::file_size(path)) / kStorePageSize;
}

// Overwrites page `page` (0-based) of a closed store file with garbage. False if it cannot.
inline bool DamagePage(const std::string& path, int64_t page) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) return false;
  f.seekp(page * kStorePageSize);
  std::string garbage(kStorePageSize, '\xa5');
  f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  return f.good();
}

}  // namespace rcbench::controller::testing
