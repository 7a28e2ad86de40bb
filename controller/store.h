#pragma once

// The results store seam and its SQLite implementation.
//
// Layout (schema version 5, see Migrations() in store_schema.cc): experiments; campaigns (per
// experiment: name, kernel identity, tags); runs (campaign, factor values, repetition, seed,
// tags, status, error, attempt counters); attempts (every try at a run, with
// its outcome, reason and whether the infrastructure caused it); run_hosts (host facts of every
// host of a run);
// class_results; container_results; samples (the agent and load-generator time series);
// benchmark_results (micro-benchmark runs: one row per entry of the program's output).
//
// Every result row is written once: a run's results, host facts and samples are inserted in the
// same transaction that marks the run COMPLETED (or FAILED), guarded by primary keys, so a crash
// leaves either all of a run's rows or none, and CompleteRun on a finished run fails with
// ALREADY_EXISTS. A run left RUNNING by a killed controller is marked INTERRUPTED by
// MarkStaleRunsInterrupted and redone; an attempt lost to the infrastructure with attempts left
// is recorded by RetryLater and the run goes back to PENDING. Thread-safe (one connection behind
// a mutex).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/matrix.h"
#include "rcbench/v1/controller.pb.h"
#include "rcbench/v1/loadgen.pb.h"

struct sqlite3;

namespace rcbench::controller {

struct ExperimentRecord {
  std::string name;
  std::string spec_yaml;
  uint64_t seed = 0;
  std::string created_at;  // RFC 3339
};

// A campaign: the runs of one experiment on one kernel identity with one set of tags
// (controller/campaign.h). `kernel_identity` is empty for the campaign that existing runs were
// given by the migration to schema 5 ("legacy").
struct CampaignRecord {
  std::string experiment;
  std::string name;
  std::string kernel_identity;  // "HOST=RELEASE VERSION; ..." sorted by host
  std::map<std::string, std::string> tags;
  std::string created_at;  // RFC 3339
};

// Everything a finished run leaves behind.
struct RunOutcome {
  std::string run_id;
  rcbench::v1::RunStatus status = rcbench::v1::RUN_STATUS_COMPLETED;
  std::string error;
  // A FAILED run whose last attempt was lost to the infrastructure (its attempts ran out).
  bool infrastructure = false;
  int64_t finished_at_unix_ms = 0;
  // Host name (as the spec names it) -> facts.
  std::map<std::string, rcbench::v1::HostFacts> hosts;
  std::vector<rcbench::v1::ClassResult> classes;
  std::vector<rcbench::v1::ContainerResult> containers;
  // Micro-benchmark runs (spec `benchmark`): the program's entries in output order.
  std::vector<rcbench::v1::BenchmarkResult> benchmarks;
  std::vector<rcbench::v1::UsageReport> usage_samples;
  std::vector<rcbench::v1::StatsReport> load_samples;
};

class ResultStore {
 public:
  virtual ~ResultStore() = default;

  // The stored experiment, or nullopt.
  virtual absl::StatusOr<std::optional<ExperimentRecord>> GetExperiment(
      const std::string& name) = 0;
  // Records the experiment (if new) and a PENDING row for every planned run not yet stored,
  // in `campaign` (which AddCampaign must have recorded, unless empty).
  virtual absl::Status AddExperiment(const ExperimentRecord& experiment,
                                     const std::vector<PlannedRun>& runs,
                                     const std::string& campaign = "") = 0;
  // Records a campaign; ALREADY_EXISTS if the experiment has one of that name.
  virtual absl::Status AddCampaign(const CampaignRecord& campaign) = 0;
  virtual absl::StatusOr<std::optional<CampaignRecord>> GetCampaign(const std::string& experiment,
                                                                    const std::string& name) = 0;
  // In creation order.
  virtual absl::StatusOr<std::vector<CampaignRecord>> ListCampaigns(
      const std::string& experiment) = 0;
  // RUNNING runs of `experiment` (their controller died) become INTERRUPTED, and so do their
  // running attempts (reason `reason`); returns their run ids.
  virtual absl::StatusOr<std::vector<std::string>> MarkStaleRunsInterrupted(
      const std::string& experiment, const std::string& reason = "controller stopped mid-run") = 0;
  // Starts the run's next attempt: the run becomes RUNNING and an attempt row is added.
  // Returns the attempt's number (1-based, over the run's whole history).
  // FAILED_PRECONDITION if the run is unknown or already COMPLETED or FAILED.
  virtual absl::StatusOr<int> MarkRunning(const std::string& run_id, int64_t started_at_unix_ms,
                                          const std::map<std::string, std::string>& tags) = 0;
  // Ends the running attempt as lost to the infrastructure (FAILED, infrastructure) and puts
  // the run back to PENDING with `reason` as its error, to be redone. FAILED_PRECONDITION
  // unless the run is RUNNING.
  virtual absl::Status RetryLater(const std::string& run_id, const std::string& reason,
                                  int64_t finished_at_unix_ms) = 0;
  // FAILED runs of `experiment` go back to PENDING with a new budget of attempts
  // (attempts_before_retry); returns how many.
  virtual absl::StatusOr<int> ResetFailedRuns(const std::string& experiment) = 0;
  // Writes the outcome and the final status in one transaction, and ends the running attempt
  // (if any) with the same status. ALREADY_EXISTS if the run is already COMPLETED or FAILED;
  // NOT_FOUND for an unknown run.
  virtual absl::Status CompleteRun(const RunOutcome& outcome) = 0;
  // Runs in execution order; all experiments when `experiment` is empty.
  virtual absl::StatusOr<std::vector<rcbench::v1::Run>> ListRuns(const std::string& experiment) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListExperiments() = 0;
  // A run's stored results (samples only when asked). NOT_FOUND for an unknown run.
  virtual absl::StatusOr<rcbench::v1::GetResultsResponse> GetResults(const std::string& run_id,
                                                                     bool include_samples) = 0;
  // Host facts of a run by host name.
  virtual absl::StatusOr<std::map<std::string, rcbench::v1::HostFacts>> GetHostFacts(
      const std::string& run_id) = 0;
};

class SqliteResultStore : public ResultStore {
 public:
  // Opens (creating parent directories and the file as needed), checks it (Check) and migrates
  // to the newest schema. FAILED_PRECONDITION if the file has a newer schema than this binary
  // knows; DATA_LOSS if it is damaged.
  //
  // Every error of this store names the file and carries SQLite's message ("results store
  // FILE: sqlite: database disk image is malformed"): DATA_LOSS for a damaged file,
  // RESOURCE_EXHAUSTED for a full disk (the transaction is rolled back, earlier runs stay
  // intact), INTERNAL otherwise. A read that fails part-way fails; it never returns the rows
  // read before the failure as the whole answer.
  static absl::StatusOr<std::unique_ptr<SqliteResultStore>> Open(const std::string& path);
  ~SqliteResultStore() override;

  // PRAGMA quick_check: reads every page. DATA_LOSS naming the file and the problems found.
  absl::Status Check();

  // Current schema version (PRAGMA user_version).
  absl::StatusOr<int> SchemaVersion();
  static int LatestSchemaVersion();
  // Applies migrations up to `target` only (for tests of upgrades).
  static absl::StatusOr<std::unique_ptr<SqliteResultStore>> OpenAtVersion(const std::string& path,
                                                                          int target);

  absl::StatusOr<std::optional<ExperimentRecord>> GetExperiment(const std::string& name) override;
  absl::Status AddExperiment(const ExperimentRecord& experiment,
                             const std::vector<PlannedRun>& runs,
                             const std::string& campaign = "") override;
  absl::Status AddCampaign(const CampaignRecord& campaign) override;
  absl::StatusOr<std::optional<CampaignRecord>> GetCampaign(const std::string& experiment,
                                                            const std::string& name) override;
  absl::StatusOr<std::vector<CampaignRecord>> ListCampaigns(const std::string& experiment) override;
  absl::StatusOr<std::vector<std::string>> MarkStaleRunsInterrupted(
      const std::string& experiment,
      const std::string& reason = "controller stopped mid-run") override;
  absl::StatusOr<int> MarkRunning(const std::string& run_id, int64_t started_at_unix_ms,
                                  const std::map<std::string, std::string>& tags) override;
  absl::Status RetryLater(const std::string& run_id, const std::string& reason,
                          int64_t finished_at_unix_ms) override;
  absl::StatusOr<int> ResetFailedRuns(const std::string& experiment) override;
  absl::Status CompleteRun(const RunOutcome& outcome) override;
  absl::StatusOr<std::vector<rcbench::v1::Run>> ListRuns(const std::string& experiment) override;
  absl::StatusOr<std::vector<std::string>> ListExperiments() override;
  absl::StatusOr<rcbench::v1::GetResultsResponse> GetResults(const std::string& run_id,
                                                             bool include_samples) override;
  absl::StatusOr<std::map<std::string, rcbench::v1::HostFacts>> GetHostFacts(
      const std::string& run_id) override;

  // Runs raw SQL (tests and `rcbench` maintenance only).
  absl::Status Exec(const std::string& sql);
  // Number of rows of `table` for a run.
  absl::StatusOr<int64_t> CountRows(const std::string& table, const std::string& run_id);

 private:
  explicit SqliteResultStore(sqlite3* db) : db_(db) {}
  absl::Status Migrate(int target);
  absl::Status ExecLocked(const std::string& sql);
  // BEGIN IMMEDIATE, `body`, then COMMIT, or ROLLBACK when `body` fails. With mu_ held.
  absl::Status InTransaction(const std::function<absl::Status()>& body);

  std::mutex mu_;
  sqlite3* db_;
};

const char* RunStatusName(rcbench::v1::RunStatus status);

}  // namespace rcbench::controller
