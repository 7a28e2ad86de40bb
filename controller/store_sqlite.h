#pragma once

// Private to the SQLite results store (store*.cc): statements, errors and the helpers the
// store's files share. store_schema.cc holds the schema (its migrations) and opening;
// store.cc the writes (experiments, campaigns, a run's attempts and results); store_queries.cc
// the reads (runs, host facts, results). Not thread-safe: callers hold the store's mutex.

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "google/protobuf/timestamp.pb.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::controller::store_internal {

// Versioned schema: migration i (1-based) moves the schema from version i-1 to i.
const std::vector<const char*>& Migrations();

// "results store FILE: sqlite: MESSAGE": every store error names the file.
std::string StoreError(sqlite3* db, absl::string_view what);

// A damaged file (SQLITE_CORRUPT, SQLITE_NOTADB) is DATA_LOSS, a full disk RESOURCE_EXHAUSTED,
// a constraint ALREADY_EXISTS; the rest INTERNAL.
absl::Status StoreStatus(sqlite3* db, int rc, absl::string_view what = "");

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

// Tags and factors are stored as JSON objects of strings.
std::string MapToJson(const std::map<std::string, std::string>& m);
std::map<std::string, std::string> JsonToMap(const std::string& text);
void SetTimestampMs(int64_t ms, google::protobuf::Timestamp* ts);
uint64_t ErrorsTotal(const rcbench::v1::ErrorCounts& e);

}  // namespace rcbench::controller::store_internal
