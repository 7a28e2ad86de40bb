#include "controller/store.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/store_sqlite.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace store_internal {

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

}  // namespace store_internal

using store_internal::ErrorsTotal;
using store_internal::JsonToMap;
using store_internal::MapToJson;
using store_internal::Stmt;
using store_internal::StoreError;

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
  return InTransaction(body);
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
  return InTransaction(body);
}

}  // namespace rcbench::controller
