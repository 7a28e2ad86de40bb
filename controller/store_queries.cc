#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store.h"
#include "controller/store_sqlite.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {

using store_internal::JsonToMap;
using store_internal::SetTimestampMs;
using store_internal::Stmt;
using store_internal::StoreError;

namespace {

// Adds to `out` the message serialized in column 0 of every row of `s`, the statement's one
// parameter being the run. DATA_LOSS names `what` and the run when a blob does not parse.
template <typename Message>
absl::Status ReadMessages(Stmt& s, const std::string& run_id, absl::string_view what,
                          google::protobuf::RepeatedPtrField<Message>* out) {
  RCBENCH_RETURN_IF_ERROR(s.status());
  s.Bind(1, run_id);
  while (s.Step() == SQLITE_ROW) {
    if (!out->Add()->ParseFromString(s.Blob(0))) {
      return absl::DataLossError(absl::StrCat("corrupt ", what, " of run ", run_id));
    }
  }
  return s.Finished();
}

}  // namespace

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
    RCBENCH_RETURN_IF_ERROR(ReadMessages(s, run_id, "class result", resp.mutable_classes()));
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
    RCBENCH_RETURN_IF_ERROR(ReadMessages(s, run_id, "sample", resp.mutable_samples()));
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
