#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/store.h"
#include "controller/store_sqlite.h"

namespace rcbench::controller {
namespace store_internal {

// Versioned schema: migration i (1-based) moves the schema from version i-1 to i. Never edit
// a released migration; append a new one.
const std::vector<const char*>& Migrations() {
  static const auto* m = new std::vector<const char*>{
      // 1: the core tables.
      R"sql(
      CREATE TABLE experiments (
        name TEXT PRIMARY KEY,
        spec_yaml TEXT NOT NULL,
        seed INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        experiment TEXT NOT NULL REFERENCES experiments(name),
        ord INTEGER NOT NULL,
        repetition INTEGER NOT NULL,
        factors_json TEXT NOT NULL,
        seed INTEGER NOT NULL,
        status INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        started_at_ms INTEGER NOT NULL DEFAULT 0,
        finished_at_ms INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE run_hosts (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        host TEXT NOT NULL,
        hostname TEXT NOT NULL,
        kernel_release TEXT NOT NULL,
        facts BLOB NOT NULL,
        PRIMARY KEY (run_id, host)
      );
      CREATE TABLE class_results (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        class_name TEXT NOT NULL,
        throughput_rps REAL NOT NULL,
        latency_p50_us REAL NOT NULL,
        latency_p90_us REAL NOT NULL,
        latency_p99_us REAL NOT NULL,
        latency_p999_us REAL NOT NULL,
        latency_max_us REAL NOT NULL,
        errors_total INTEGER NOT NULL,
        result BLOB NOT NULL,
        PRIMARY KEY (run_id, class_name)
      );
      CREATE TABLE container_results (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        host TEXT NOT NULL,
        path TEXT NOT NULL,
        cpu_seconds REAL NOT NULL,
        cpu_cores REAL NOT NULL,
        cpu_throttled_seconds REAL NOT NULL,
        memory_peak_bytes INTEGER NOT NULL,
        PRIMARY KEY (run_id, host, path)
      );
      CREATE TABLE samples (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        source TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        kind TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run_id, source, kind, sequence)
      );
      )sql",
      // 2: run-time tags (compare selectors) and the lookups reports make.
      R"sql(
      ALTER TABLE runs ADD COLUMN tags_json TEXT NOT NULL DEFAULT '{}';
      CREATE INDEX runs_by_experiment ON runs(experiment, ord);
      )sql",
      // 3: micro-benchmark results (experiments with a `benchmark` block), one row per entry
      // of the program's output, in output order.
      R"sql(
      CREATE TABLE benchmark_results (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        ordinal INTEGER NOT NULL,
        name TEXT NOT NULL,
        run_name TEXT NOT NULL,
        aggregate_name TEXT NOT NULL,
        repetition_index INTEGER NOT NULL,
        iterations INTEGER NOT NULL,
        real_time_ns REAL NOT NULL,
        cpu_time_ns REAL NOT NULL,
        label TEXT NOT NULL,
        counters_json TEXT NOT NULL,
        PRIMARY KEY (run_id, ordinal)
      );
      )sql",
      // 4: attempts. Every try at a run, with how it ended; runs count them. Runs finished
      // before this version get one attempt each, as they had.
      R"sql(
      CREATE TABLE attempts (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        attempt INTEGER NOT NULL,
        status INTEGER NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        infrastructure INTEGER NOT NULL DEFAULT 0,
        started_at_ms INTEGER NOT NULL DEFAULT 0,
        finished_at_ms INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, attempt)
      );
      ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE runs ADD COLUMN attempts_before_retry INTEGER NOT NULL DEFAULT 0;
      INSERT INTO attempts (run_id, attempt, status, reason, started_at_ms, finished_at_ms)
        SELECT run_id, 1, status, error, started_at_ms, finished_at_ms FROM runs
        WHERE status IN (2, 3, 4, 5);
      UPDATE runs SET attempts = 1 WHERE status IN (2, 3, 4, 5);
      )sql",
      // 5: campaigns. Runs stored before them join one campaign per experiment, "legacy",
      // whose kernel identity is unknown (empty).
      R"sql(
      CREATE TABLE campaigns (
        experiment TEXT NOT NULL REFERENCES experiments(name),
        name TEXT NOT NULL,
        kernel_identity TEXT NOT NULL,
        tags_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        PRIMARY KEY (experiment, name)
      );
      ALTER TABLE runs ADD COLUMN campaign TEXT NOT NULL DEFAULT '';
      INSERT INTO campaigns (experiment, name, kernel_identity, created_at)
        SELECT DISTINCT experiment, 'legacy', '', '' FROM runs;
      UPDATE runs SET campaign = 'legacy';
      CREATE INDEX runs_by_campaign ON runs(experiment, campaign, ord);
      )sql",
  };
  return *m;
}

// "results store FILE: sqlite: MESSAGE": every store error names the file, so that a damaged
// or full store is recognisable in a run's error and on the command line.
std::string StoreError(sqlite3* db, absl::string_view what) {
  const char* file = sqlite3_db_filename(db, "main");
  return absl::StrCat("results store ", file && *file ? file : "(in memory)", ": sqlite",
                      what.empty() ? "" : " ", what, ": ", sqlite3_errmsg(db));
}

// A damaged file (SQLITE_CORRUPT, SQLITE_NOTADB) is DATA_LOSS, a full disk RESOURCE_EXHAUSTED;
// the rest INTERNAL.
absl::Status StoreStatus(sqlite3* db, int rc, absl::string_view what) {
  std::string msg = StoreError(db, what);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace store_internal

using store_internal::Migrations;
using store_internal::Stmt;
using store_internal::StoreError;
using store_internal::StoreStatus;

int SqliteResultStore::LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

absl::StatusOr<std::unique_ptr<SqliteResultStore>> SqliteResultStore::Open(
    const std::string& path) {
  return OpenAtVersion(path, LatestSchemaVersion());
}

absl::StatusOr<std::unique_ptr<SqliteResultStore>> SqliteResultStore::OpenAtVersion(
    const std::string& path, int target) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create directory ", parent.string(), ": ", ec.message()));
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open results store ", path, ": ", msg));
  }
  std::unique_ptr<SqliteResultStore> store(new SqliteResultStore(db));
  sqlite3_busy_timeout(db, 10000);
  // WAL: readers (report, list) do not block the running controller, and a crash mid-write
  // leaves the last committed transaction intact.
  //
  // Switching a new file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once
  // (without the busy handler) while another connection opens the same new file, e.g. a second
  // controller or `rcbench list`: retry for as long as the busy timeout would wait.
  absl::Status wal;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    wal = store->Exec("PRAGMA journal_mode=WAL");
    if (wal.ok() || sqlite3_errcode(db) != SQLITE_BUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RCBENCH_RETURN_IF_ERROR(wal);
  RCBENCH_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  RCBENCH_RETURN_IF_ERROR(store->Check());
  RCBENCH_RETURN_IF_ERROR(store->Migrate(target));
  return store;
}

SqliteResultStore::~SqliteResultStore() { sqlite3_close(db_); }

absl::Status SqliteResultStore::Check() {
  std::lock_guard<std::mutex> lock(mu_);
  // quick_check reads every page of every table and index (it skips only the index-content
  // cross-checks of integrity_check), so a damaged page is found here and not as rows that
  // silently stop coming.
  Stmt s(db_, "PRAGMA quick_check(20)");
  RCBENCH_RETURN_IF_ERROR(s.status());
  std::vector<std::string> problems;
  while (s.Step() == SQLITE_ROW) {
    std::string line = s.Text(0);
    if (line != "ok") problems.push_back(std::move(line));
  }
  if (absl::Status read = s.Finished(); !read.ok()) {
    // A page so damaged that quick_check itself cannot go on.
    if (read.code() != absl::StatusCode::kDataLoss) return read;
    problems.push_back(std::string(sqlite3_errmsg(db_)));
  }
  if (problems.empty()) return absl::OkStatus();
  const char* file = sqlite3_db_filename(db_, "main");
  return absl::DataLossError(
      absl::StrCat("results store ", file ? file : "",
                   " is damaged (PRAGMA quick_check: ", absl::StrJoin(problems, "; "),
                   "); restore it from a backup, or try `sqlite3 FILE .recover` into a new file"));
}

absl::Status SqliteResultStore::ExecLocked(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // sqlite3_errmsg still has it
  if (rc != SQLITE_OK) return StoreStatus(db_, rc);
  return absl::OkStatus();
}

absl::Status SqliteResultStore::Exec(const std::string& sql) {
  std::lock_guard<std::mutex> lock(mu_);
  return ExecLocked(sql);
}

absl::StatusOr<int> SqliteResultStore::SchemaVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "PRAGMA user_version");
  RCBENCH_RETURN_IF_ERROR(s.status());
  s.Step();
  RCBENCH_ASSIGN_OR_RETURN(bool row, s.Row());
  if (!row) return absl::InternalError(StoreError(db_, "PRAGMA user_version returned no row"));
  return static_cast<int>(s.Int(0));
}

absl::Status SqliteResultStore::Migrate(int target) {
  RCBENCH_ASSIGN_OR_RETURN(int version, SchemaVersion());
  if (version > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat("results store has schema version ", version, " but this rcbench knows up to ",
                     LatestSchemaVersion(), "; use a newer rcbench"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (int v = version; v < target; ++v) {
    // Each migration and its version bump commit together. The version read above is only a
    // hint: another process (a second controller, `rcbench list`) may have migrated the same
    // file since, so it is read again under the write lock that BEGIN IMMEDIATE takes.
    RCBENCH_RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
    int current = v;
    {
      Stmt q(db_, "PRAGMA user_version");
      if (q.status().ok() && q.Step() == SQLITE_ROW) current = static_cast<int>(q.Int(0));
    }
    if (current > v) {
      RCBENCH_RETURN_IF_ERROR(ExecLocked("COMMIT"));
      v = current - 1;
      continue;
    }
    absl::Status s = ExecLocked(Migrations()[v]);
    if (s.ok()) s = ExecLocked(absl::StrCat("PRAGMA user_version = ", v + 1));
    if (!s.ok()) {
      ExecLocked("ROLLBACK").IgnoreError();
      return absl::InternalError(absl::StrCat("migration to schema ", v + 1, ": ", s.message()));
    }
    RCBENCH_RETURN_IF_ERROR(ExecLocked("COMMIT"));
  }
  return absl::OkStatus();
}

absl::Status SqliteResultStore::InTransaction(const std::function<absl::Status()>& body) {
  RCBENCH_RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
  absl::Status st = body();
  if (!st.ok()) {
    ExecLocked("ROLLBACK").IgnoreError();
    return st;
  }
  return ExecLocked("COMMIT");
}

}  // namespace rcbench::controller
