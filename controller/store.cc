#include "controller/store.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

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
absl::Status StoreStatus(sqlite3* db, int rc, absl::string_view what = "") {
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

// A prepared statement; finalized on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc_ != SQLITE_OK) prepare_error_ = StoreStatus(db, rc_, "prepare");
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status status() const { return prepare_error_; }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() {
    last_step_ = stmt_ ? sqlite3_step(stmt_) : rc_;
    return last_step_;
  }
  absl::Status Run() {
    RCBENCH_RETURN_IF_ERROR(status());
    int rc = Step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return absl::OkStatus();
    return StoreStatus(db_, rc);
  }
  // After a `while (Step() == SQLITE_ROW)` loop: OK if it ended because the rows did, else the
  // error that ended it (a damaged page must not read as "no more rows").
  absl::Status Finished() const {
    RCBENCH_RETURN_IF_ERROR(status());
    if (last_step_ == SQLITE_DONE) return absl::OkStatus();
    return StoreStatus(db_, last_step_);
  }
  // After a single Step(): true for a row, false for none, or the error.
  absl::StatusOr<bool> Row() const {
    if (last_step_ == SQLITE_ROW) return true;
    RCBENCH_RETURN_IF_ERROR(Finished());
    return false;
  }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, col))
             : std::string();
  }
  std::string Blob(int col) {
    const void* b = sqlite3_column_blob(stmt_, col);
    return b ? std::string(static_cast<const char*>(b), sqlite3_column_bytes(stmt_, col))
             : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) { return sqlite3_column_double(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  int last_step_ = SQLITE_MISUSE;
  absl::Status prepare_error_;
};

std::string MapToJson(const std::map<std::string, std::string>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j.dump();
}

std::map<std::string, std::string> JsonToMap(const std::string& text) {
  std::map<std::string, std::string> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

void SetTimestampMs(int64_t ms, google::protobuf::Timestamp* ts) {
  ts->set_seconds(ms / 1000);
  ts->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

uint64_t ErrorsTotal(const rcbench::v1::ErrorCounts& e) {
  return e.connect_timeout() + e.connect_refused() + e.reset() + e.response_timeout() +
         e.non_2xx() + e.parse_error() + e.late_send() + e.local();
}

}  // namespace

const char* RunStatusName(rcbench::v1::RunStatus status) {
  switch (status) {
    case rcbench::v1::RUN_STATUS_PENDING:
      return "pending";
    case rcbench::v1::RUN_STATUS_RUNNING:
      return "running";
    case rcbench::v1::RUN_STATUS_COMPLETED:
      return "completed";
    case rcbench::v1::RUN_STATUS_FAILED:
      return "failed";
    case rcbench::v1::RUN_STATUS_INTERRUPTED:
      return "interrupted";
    default:
      return "unspecified";
  }
}

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

absl::StatusOr<std::optional<ExperimentRecord>> SqliteResultStore::GetExperiment(
    const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT name, spec_yaml, seed, created_at FROM experiments WHERE name = ?");
  RCBENCH_RETURN_IF_ERROR(s.status());
  s.Bind(1, name);
  s.Step();
  RCBENCH_ASSIGN_OR_RETURN(bool row, s.Row());
  if (!row) return std::optional<ExperimentRecord>();
  ExperimentRecord r{s.Text(0), s.Text(1), static_cast<uint64_t>(s.Int(2)), s.Text(3)};
  return std::optional<ExperimentRecord>(std::move(r));
}

absl::Status SqliteResultStore::AddCampaign(const CampaignRecord& c) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "INSERT INTO campaigns (experiment, name, kernel_identity, tags_json, created_at) "
         "VALUES (?, ?, ?, ?, ?)");
  s.Bind(1, c.experiment).Bind(2, c.name).Bind(3, c.kernel_identity).Bind(4, MapToJson(c.tags));
  s.Bind(5, c.created_at);
  absl::Status st = s.Run();
  if (st.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat("experiment ", c.experiment, " already has a campaign ", c.name));
  }
  return st;
}

absl::StatusOr<std::vector<CampaignRecord>> SqliteResultStore::ListCampaigns(
    const std::string& experiment) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT experiment, name, kernel_identity, tags_json, created_at FROM campaigns "
         "WHERE experiment = ? ORDER BY rowid");
  RCBENCH_RETURN_IF_ERROR(s.status());
  s.Bind(1, experiment);
  std::vector<CampaignRecord> out;
  while (s.Step() == SQLITE_ROW) {
    out.push_back({s.Text(0), s.Text(1), s.Text(2), JsonToMap(s.Text(3)), s.Text(4)});
  }
  RCBENCH_RETURN_IF_ERROR(s.Finished());
  return out;
}

absl::StatusOr<std::optional<CampaignRecord>> SqliteResultStore::GetCampaign(
    const std::string& experiment, const std::string& name) {
  RCBENCH_ASSIGN_OR_RETURN(auto all, ListCampaigns(experiment));
  for (auto& c : all) {
    if (c.name == name) return std::optional<CampaignRecord>(std::move(c));
  }
  return std::optional<CampaignRecord>();
}

absl::Status SqliteResultStore::AddExperiment(const ExperimentRecord& e,
                                              const std::vector<PlannedRun>& runs,
                                              const std::string& campaign) {
  std::lock_guard<std::mutex> lock(mu_);
  RCBENCH_RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
  auto body = [&]() -> absl::Status {
    Stmt ins(db_,
             "INSERT OR IGNORE INTO experiments (name, spec_yaml, seed, created_at) "
             "VALUES (?, ?, ?, ?)");
    ins.Bind(1, e.name).Bind(2, e.spec_yaml).Bind(3, static_cast<int64_t>(e.seed));
    ins.Bind(4, e.created_at);
    RCBENCH_RETURN_IF_ERROR(ins.Run());
    for (const PlannedRun& r : runs) {
      Stmt s(db_,
             "INSERT OR IGNORE INTO runs (run_id, experiment, ord, repetition, factors_json, "
             "seed, status, campaign) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      s.Bind(1, r.run_id).Bind(2, e.name).Bind(3, static_cast<int64_t>(r.order));
      s.Bind(4, static_cast<int64_t>(r.repetition)).Bind(5, MapToJson(r.factors));
      s.Bind(6, static_cast<int64_t>(e.seed));
      s.Bind(7, static_cast<int64_t>(rcbench::v1::RUN_STATUS_PENDING)).Bind(8, campaign);
      RCBENCH_RETURN_IF_ERROR(s.Run());
    }
    return absl::OkStatus();
  };
  absl::Status st = body();
  if (!st.ok()) {
    ExecLocked("ROLLBACK").IgnoreError();
    return st;
  }
  return ExecLocked("COMMIT");
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

absl::StatusOr<std::vector<std::string>> SqliteResultStore::MarkStaleRunsInterrupted(
    const std::string& experiment, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  RCBENCH_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    {
      Stmt q(db_, "SELECT run_id FROM runs WHERE experiment = ? AND status = ? ORDER BY ord");
      RCBENCH_RETURN_IF_ERROR(q.status());
      q.Bind(1, experiment).Bind(2, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING));
      while (q.Step() == SQLITE_ROW) ids.push_back(q.Text(0));
      RCBENCH_RETURN_IF_ERROR(q.Finished());
    }
    for (const std::string& id : ids) {
      Stmt a(db_,
             "UPDATE attempts SET status = ?, reason = ?, infrastructure = 1 "
             "WHERE run_id = ? AND status = ?");
      a.Bind(1, static_cast<int64_t>(rcbench::v1::RUN_STATUS_INTERRUPTED)).Bind(2, reason);
      a.Bind(3, id).Bind(4, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING));
      RCBENCH_RETURN_IF_ERROR(a.Run());
      Stmt r(db_, "UPDATE runs SET status = ?, error = ? WHERE run_id = ?");
      r.Bind(1, static_cast<int64_t>(rcbench::v1::RUN_STATUS_INTERRUPTED)).Bind(2, reason);
      r.Bind(3, id);
      RCBENCH_RETURN_IF_ERROR(r.Run());
    }
    return absl::OkStatus();
  }));
  return ids;
}

absl::StatusOr<int> SqliteResultStore::MarkRunning(const std::string& run_id,
                                                   int64_t started_at_unix_ms,
                                                   const std::map<std::string, std::string>& tags) {
  std::lock_guard<std::mutex> lock(mu_);
  int attempt = 0;
  RCBENCH_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    Stmt s(db_,
           "UPDATE runs SET status = ?, started_at_ms = ?, tags_json = ?, error = '', "
           "attempts = attempts + 1 WHERE run_id = ? AND status NOT IN (?, ?)");
    s.Bind(1, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING)).Bind(2, started_at_unix_ms);
    s.Bind(3, MapToJson(tags)).Bind(4, run_id);
    s.Bind(5, static_cast<int64_t>(rcbench::v1::RUN_STATUS_COMPLETED));
    s.Bind(6, static_cast<int64_t>(rcbench::v1::RUN_STATUS_FAILED));
    RCBENCH_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", run_id, " is unknown or already finished"));
    }
    Stmt q(db_, "SELECT attempts FROM runs WHERE run_id = ?");
    q.Bind(1, run_id);
    q.Step();
    RCBENCH_ASSIGN_OR_RETURN(bool row, q.Row());
    if (!row) return absl::InternalError(StoreError(db_, "run vanished"));
    attempt = static_cast<int>(q.Int(0));
    // An attempt left RUNNING (a controller killed before the run was marked INTERRUPTED)
    // is closed as interrupted first.
    Stmt close(db_,
               "UPDATE attempts SET status = ?, infrastructure = 1, "
               "reason = 'controller stopped mid-run' WHERE run_id = ? AND status = ?");
    close.Bind(1, static_cast<int64_t>(rcbench::v1::RUN_STATUS_INTERRUPTED)).Bind(2, run_id);
    close.Bind(3, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING));
    RCBENCH_RETURN_IF_ERROR(close.Run());
    Stmt ins(db_,
             "INSERT OR REPLACE INTO attempts (run_id, attempt, status, started_at_ms) "
             "VALUES (?, ?, ?, ?)");
    ins.Bind(1, run_id).Bind(2, static_cast<int64_t>(attempt));
    ins.Bind(3, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING)).Bind(4, started_at_unix_ms);
    return ins.Run();
  }));
  return attempt;
}

absl::Status SqliteResultStore::RetryLater(const std::string& run_id, const std::string& reason,
                                           int64_t finished_at_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction([&]() -> absl::Status {
    Stmt s(db_, "UPDATE runs SET status = ?, error = ? WHERE run_id = ? AND status = ?");
    s.Bind(1, static_cast<int64_t>(rcbench::v1::RUN_STATUS_PENDING)).Bind(2, reason);
    s.Bind(3, run_id).Bind(4, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING));
    RCBENCH_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) != 1) {
      return absl::FailedPreconditionError(absl::StrCat("run ", run_id, " is not running"));
    }
    Stmt a(db_,
           "UPDATE attempts SET status = ?, reason = ?, infrastructure = 1, finished_at_ms = ? "
           "WHERE run_id = ? AND status = ?");
    a.Bind(1, static_cast<int64_t>(rcbench::v1::RUN_STATUS_FAILED)).Bind(2, reason);
    a.Bind(3, finished_at_unix_ms).Bind(4, run_id);
    a.Bind(5, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING));
    return a.Run();
  });
}

absl::StatusOr<int> SqliteResultStore::ResetFailedRuns(const std::string& experiment) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "UPDATE runs SET status = ?, attempts_before_retry = attempts "
         "WHERE experiment = ? AND status = ?");
  s.Bind(1, static_cast<int64_t>(rcbench::v1::RUN_STATUS_PENDING)).Bind(2, experiment);
  s.Bind(3, static_cast<int64_t>(rcbench::v1::RUN_STATUS_FAILED));
  RCBENCH_RETURN_IF_ERROR(s.Run());
  return sqlite3_changes(db_);
}

absl::Status SqliteResultStore::CompleteRun(const RunOutcome& o) {
  std::lock_guard<std::mutex> lock(mu_);
  RCBENCH_RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
  auto body = [&]() -> absl::Status {
    {
      Stmt s(db_, "SELECT status FROM runs WHERE run_id = ?");
      RCBENCH_RETURN_IF_ERROR(s.status());
      s.Bind(1, o.run_id);
      s.Step();
      RCBENCH_ASSIGN_OR_RETURN(bool row, s.Row());
      if (!row) return absl::NotFoundError("unknown run " + o.run_id);
      auto status = static_cast<rcbench::v1::RunStatus>(s.Int(0));
      if (status == rcbench::v1::RUN_STATUS_COMPLETED || status == rcbench::v1::RUN_STATUS_FAILED) {
        return absl::AlreadyExistsError(
            absl::StrCat("run ", o.run_id, " is already ", RunStatusName(status)));
      }
    }
    for (const auto& [host, facts] : o.hosts) {
      Stmt s(db_,
             "INSERT INTO run_hosts (run_id, host, hostname, kernel_release, facts) "
             "VALUES (?, ?, ?, ?, ?)");
      s.Bind(1, o.run_id).Bind(2, host).Bind(3, facts.hostname()).Bind(4, facts.kernel_release());
      s.BindBlob(5, facts.SerializeAsString());
      RCBENCH_RETURN_IF_ERROR(s.Run());
    }
    for (const auto& c : o.classes) {
      Stmt s(db_,
             "INSERT INTO class_results (run_id, class_name, throughput_rps, latency_p50_us, "
             "latency_p90_us, latency_p99_us, latency_p999_us, latency_max_us, errors_total, "
             "result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      s.Bind(1, o.run_id).Bind(2, c.class_name()).Bind(3, c.throughput_rps());
      s.Bind(4, c.latency_p50_us()).Bind(5, c.latency_p90_us()).Bind(6, c.latency_p99_us());
      s.Bind(7, c.latency_p999_us()).Bind(8, c.latency_max_us());
      s.Bind(9, static_cast<int64_t>(ErrorsTotal(c.errors())));
      s.BindBlob(10, c.SerializeAsString());
      RCBENCH_RETURN_IF_ERROR(s.Run());
    }
    for (size_t i = 0; i < o.benchmarks.size(); ++i) {
      const auto& b = o.benchmarks[i];
      nlohmann::json counters = nlohmann::json::object();
      for (const auto& [k, v] : b.counters()) counters[k] = v;
      Stmt s(db_,
             "INSERT INTO benchmark_results (run_id, ordinal, name, run_name, aggregate_name, "
             "repetition_index, iterations, real_time_ns, cpu_time_ns, label, counters_json) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      s.Bind(1, o.run_id).Bind(2, static_cast<int64_t>(i)).Bind(3, b.name());
      s.Bind(4, b.run_name()).Bind(5, b.aggregate_name());
      s.Bind(6, static_cast<int64_t>(b.repetition_index()));
      s.Bind(7, static_cast<int64_t>(b.iterations())).Bind(8, b.real_time_ns());
      s.Bind(9, b.cpu_time_ns()).Bind(10, b.label()).Bind(11, counters.dump());
      RCBENCH_RETURN_IF_ERROR(s.Run());
    }
    for (const auto& c : o.containers) {
      Stmt s(db_,
             "INSERT INTO container_results (run_id, host, path, cpu_seconds, cpu_cores, "
             "cpu_throttled_seconds, memory_peak_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)");
      s.Bind(1, o.run_id).Bind(2, c.id().host()).Bind(3, c.id().path());
      s.Bind(4, c.cpu_seconds()).Bind(5, c.cpu_cores()).Bind(6, c.cpu_throttled_seconds());
      s.Bind(7, static_cast<int64_t>(c.memory_peak_bytes()));
      RCBENCH_RETURN_IF_ERROR(s.Run());
    }
    auto add_sample = [&](const std::string& source, const char* kind, uint64_t seq,
                          const std::string& data) {
      Stmt s(db_,
             "INSERT INTO samples (run_id, source, sequence, kind, data) VALUES (?, ?, ?, ?, ?)");
      s.Bind(1, o.run_id).Bind(2, source).Bind(3, static_cast<int64_t>(seq)).Bind(4, kind);
      s.BindBlob(5, data);
      return s.Run();
    };
    for (const auto& r : o.usage_samples) {
      std::string source = r.containers_size() ? r.containers(0).id().host() : r.agent_instance();
      if (source.empty()) source = r.agent_instance();
      RCBENCH_RETURN_IF_ERROR(add_sample(source, "usage", r.sequence(), r.SerializeAsString()));
    }
    for (const auto& r : o.load_samples) {
      RCBENCH_RETURN_IF_ERROR(add_sample(r.run_id(), "load", r.sequence(), r.SerializeAsString()));
    }
    Stmt a(db_,
           "UPDATE attempts SET status = ?, reason = ?, infrastructure = ?, finished_at_ms = ? "
           "WHERE run_id = ? AND status = ?");
    a.Bind(1, static_cast<int64_t>(o.status)).Bind(2, o.error);
    a.Bind(3, static_cast<int64_t>(o.infrastructure ? 1 : 0)).Bind(4, o.finished_at_unix_ms);
    a.Bind(5, o.run_id).Bind(6, static_cast<int64_t>(rcbench::v1::RUN_STATUS_RUNNING));
    RCBENCH_RETURN_IF_ERROR(a.Run());
    Stmt s(db_, "UPDATE runs SET status = ?, error = ?, finished_at_ms = ? WHERE run_id = ?");
    s.Bind(1, static_cast<int64_t>(o.status)).Bind(2, o.error).Bind(3, o.finished_at_unix_ms);
    s.Bind(4, o.run_id);
    return s.Run();
  };
  absl::Status st = body();
  if (!st.ok()) {
    ExecLocked("ROLLBACK").IgnoreError();
    return st;
  }
  return ExecLocked("COMMIT");
}

absl::StatusOr<std::vector<rcbench::v1::Run>> SqliteResultStore::ListRuns(
    const std::string& experiment) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT r.experiment, r.run_id, r.ord, r.repetition, r.factors_json, r.status, r.error, "
         "r.started_at_ms, r.finished_at_ms, r.seed, r.tags_json, r.attempts_before_retry, "
         "r.campaign FROM runs r LEFT JOIN campaigns c ON c.experiment = r.experiment AND "
         "c.name = r.campaign WHERE (? = '' OR r.experiment = ?) "
         "ORDER BY r.experiment, c.rowid, r.ord");
  RCBENCH_RETURN_IF_ERROR(s.status());
  s.Bind(1, experiment).Bind(2, experiment);
  std::vector<rcbench::v1::Run> out;
  while (s.Step() == SQLITE_ROW) {
    rcbench::v1::Run r;
    r.set_experiment(s.Text(0));
    r.set_run_id(s.Text(1));
    r.set_order(static_cast<uint32_t>(s.Int(2)));
    r.set_repetition(static_cast<uint32_t>(s.Int(3)));
    for (const auto& [k, v] : JsonToMap(s.Text(4))) (*r.mutable_factors())[k] = v;
    r.set_status(static_cast<rcbench::v1::RunStatus>(s.Int(5)));
    r.set_error(s.Text(6));
    if (s.Int(7)) SetTimestampMs(s.Int(7), r.mutable_started_at());
    if (s.Int(8)) SetTimestampMs(s.Int(8), r.mutable_finished_at());
    r.set_seed(static_cast<uint64_t>(s.Int(9)));
    for (const auto& [k, v] : JsonToMap(s.Text(10))) (*r.mutable_tags())[k] = v;
    r.set_attempts_before_retry(static_cast<uint32_t>(s.Int(11)));
    r.set_campaign(s.Text(12));
    out.push_back(std::move(r));
  }
  RCBENCH_RETURN_IF_ERROR(s.Finished());
  std::map<std::string, rcbench::v1::Run*> by_id;
  for (auto& r : out) by_id[r.run_id()] = &r;
  Stmt a(db_,
         "SELECT a.run_id, a.attempt, a.status, a.reason, a.infrastructure, a.started_at_ms, "
         "a.finished_at_ms FROM attempts a JOIN runs r ON r.run_id = a.run_id "
         "WHERE (? = '' OR r.experiment = ?) ORDER BY a.run_id, a.attempt");
  RCBENCH_RETURN_IF_ERROR(a.status());
  a.Bind(1, experiment).Bind(2, experiment);
  while (a.Step() == SQLITE_ROW) {
    auto it = by_id.find(a.Text(0));
    if (it == by_id.end()) continue;
    rcbench::v1::Attempt* at = it->second->add_attempts();
    at->set_attempt(static_cast<uint32_t>(a.Int(1)));
    at->set_status(static_cast<rcbench::v1::RunStatus>(a.Int(2)));
    at->set_reason(a.Text(3));
    at->set_infrastructure(a.Int(4) != 0);
    if (a.Int(5)) SetTimestampMs(a.Int(5), at->mutable_started_at());
    if (a.Int(6)) SetTimestampMs(a.Int(6), at->mutable_finished_at());
  }
  RCBENCH_RETURN_IF_ERROR(a.Finished());
  return out;
}

absl::StatusOr<std::vector<std::string>> SqliteResultStore::ListExperiments() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT name FROM experiments ORDER BY created_at, name");
  RCBENCH_RETURN_IF_ERROR(s.status());
  std::vector<std::string> out;
  while (s.Step() == SQLITE_ROW) out.push_back(s.Text(0));
  RCBENCH_RETURN_IF_ERROR(s.Finished());
  return out;
}

absl::StatusOr<std::map<std::string, rcbench::v1::HostFacts>> SqliteResultStore::GetHostFacts(
    const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT host, facts FROM run_hosts WHERE run_id = ? ORDER BY host");
  RCBENCH_RETURN_IF_ERROR(s.status());
  s.Bind(1, run_id);
  std::map<std::string, rcbench::v1::HostFacts> out;
  while (s.Step() == SQLITE_ROW) {
    rcbench::v1::HostFacts f;
    if (!f.ParseFromString(s.Blob(1))) {
      return absl::DataLossError(absl::StrCat("corrupt host facts of run ", run_id));
    }
    out[s.Text(0)] = std::move(f);
  }
  RCBENCH_RETURN_IF_ERROR(s.Finished());
  return out;
}

absl::StatusOr<rcbench::v1::GetResultsResponse> SqliteResultStore::GetResults(
    const std::string& run_id, bool include_samples) {
  rcbench::v1::GetResultsResponse resp;
  {
    RCBENCH_ASSIGN_OR_RETURN(auto runs, ListRuns(""));
    bool found = false;
    for (auto& r : runs) {
      if (r.run_id() == run_id) {
        *resp.mutable_run() = std::move(r);
        found = true;
        break;
      }
    }
    if (!found) return absl::NotFoundError(absl::StrCat("unknown run ", run_id));
  }
  RCBENCH_ASSIGN_OR_RETURN(auto hosts, GetHostFacts(run_id));
  for (auto& [h, f] : hosts) *resp.add_hosts() = std::move(f);
  std::lock_guard<std::mutex> lock(mu_);
  {
    Stmt s(db_, "SELECT result FROM class_results WHERE run_id = ? ORDER BY class_name");
    RCBENCH_RETURN_IF_ERROR(s.status());
    s.Bind(1, run_id);
    while (s.Step() == SQLITE_ROW) {
      if (!resp.add_classes()->ParseFromString(s.Blob(0))) {
        return absl::DataLossError(absl::StrCat("corrupt class result of run ", run_id));
      }
    }
    RCBENCH_RETURN_IF_ERROR(s.Finished());
  }
  {
    Stmt s(db_,
           "SELECT host, path, cpu_seconds, cpu_cores, cpu_throttled_seconds, memory_peak_bytes "
           "FROM container_results WHERE run_id = ? ORDER BY host, path");
    RCBENCH_RETURN_IF_ERROR(s.status());
    s.Bind(1, run_id);
    while (s.Step() == SQLITE_ROW) {
      auto* c = resp.add_containers();
      c->mutable_id()->set_host(s.Text(0));
      c->mutable_id()->set_path(s.Text(1));
      c->set_cpu_seconds(s.Real(2));
      c->set_cpu_cores(s.Real(3));
      c->set_cpu_throttled_seconds(s.Real(4));
      c->set_memory_peak_bytes(static_cast<uint64_t>(s.Int(5)));
    }
    RCBENCH_RETURN_IF_ERROR(s.Finished());
  }
  {
    Stmt s(db_,
           "SELECT name, run_name, aggregate_name, repetition_index, iterations, real_time_ns, "
           "cpu_time_ns, label, counters_json FROM benchmark_results WHERE run_id = ? "
           "ORDER BY ordinal");
    RCBENCH_RETURN_IF_ERROR(s.status());
    s.Bind(1, run_id);
    while (s.Step() == SQLITE_ROW) {
      auto* b = resp.add_benchmarks();
      b->set_name(s.Text(0));
      b->set_run_name(s.Text(1));
      b->set_aggregate_name(s.Text(2));
      b->set_repetition_index(static_cast<uint32_t>(s.Int(3)));
      b->set_iterations(static_cast<uint64_t>(s.Int(4)));
      b->set_real_time_ns(s.Real(5));
      b->set_cpu_time_ns(s.Real(6));
      b->set_label(s.Text(7));
      nlohmann::json counters = nlohmann::json::parse(s.Text(8), nullptr, false);
      if (!counters.is_object()) {
        return absl::DataLossError(absl::StrCat("corrupt benchmark counters of run ", run_id));
      }
      for (auto it = counters.begin(); it != counters.end(); ++it) {
        if (it.value().is_number()) (*b->mutable_counters())[it.key()] = it.value().get<double>();
      }
    }
    RCBENCH_RETURN_IF_ERROR(s.Finished());
  }
  if (include_samples) {
    Stmt s(db_,
           "SELECT data FROM samples WHERE run_id = ? AND kind = 'usage' ORDER BY source, "
           "sequence");
    RCBENCH_RETURN_IF_ERROR(s.status());
    s.Bind(1, run_id);
    while (s.Step() == SQLITE_ROW) {
      if (!resp.add_samples()->ParseFromString(s.Blob(0))) {
        return absl::DataLossError(absl::StrCat("corrupt sample of run ", run_id));
      }
    }
    RCBENCH_RETURN_IF_ERROR(s.Finished());
  }
  return resp;
}

absl::StatusOr<int64_t> SqliteResultStore::CountRows(const std::string& table,
                                                     const std::string& run_id) {
  static const std::vector<std::string> kTables = {
      "runs",    "run_hosts",         "class_results", "container_results",
      "samples", "benchmark_results", "attempts"};
  if (std::find(kTables.begin(), kTables.end(), table) == kTables.end()) {
    return absl::InvalidArgumentError("unknown table " + table);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE run_id = ?");
  Stmt s(db_, sql.c_str());
  RCBENCH_RETURN_IF_ERROR(s.status());
  s.Bind(1, run_id);
  s.Step();
  RCBENCH_ASSIGN_OR_RETURN(bool row, s.Row());
  if (!row) return absl::InternalError(StoreError(db_, "COUNT returned no row"));
  return s.Int(0);
}

}  // namespace rcbench::controller
