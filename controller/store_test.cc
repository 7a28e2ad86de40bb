#include "controller/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/testing/store_files.h"

namespace rcbench::controller {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rcbench-store-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    path_ = (dir_ / "sub" / "rcbench.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<PlannedRun> TwoRuns() {
    PlannedRun a{"e-a", 0, 1, {{"f", "x"}}};
    PlannedRun b{"e-b", 1, 1, {{"f", "y"}}};
    return {a, b};
  }
  RunOutcome Outcome(const std::string& id) {
    RunOutcome o;
    o.run_id = id;
    o.hosts["local"].set_kernel_release("6.1.0-test");
    auto& c = o.classes.emplace_back();
    c.set_class_name("high");
    c.set_throughput_rps(123.5);
    c.set_latency_p50_us(42);
    auto& k = o.containers.emplace_back();
    k.mutable_id()->set_host("local");
    k.mutable_id()->set_path("exp/low");
    k.set_cpu_cores(0.25);
    auto& s = o.usage_samples.emplace_back();
    s.set_sequence(7);
    s.set_agent_instance("agent-1");
    return o;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(StoreTest, NewStoreIsAtTheLatestSchemaInWalMode) {
  auto store = SqliteResultStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->SchemaVersion(), SqliteResultStore::LatestSchemaVersion());
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal") || std::filesystem::exists(path_));
  ASSERT_TRUE((*store)->Exec("CREATE TEMP TABLE jm AS SELECT * FROM pragma_journal_mode").ok());
}

TEST_F(StoreTest, OldSchemaIsMigratedAndKeepsItsRows) {
  {
    auto v1 = SqliteResultStore::OpenAtVersion(path_, 1);
    ASSERT_TRUE(v1.ok()) << v1.status();
    EXPECT_EQ(*(*v1)->SchemaVersion(), 1);
    ASSERT_TRUE((*v1)
                    ->Exec("INSERT INTO experiments VALUES ('e', 'name: e', 5, 'now');"
                           "INSERT INTO runs (run_id, experiment, ord, repetition, "
                           "factors_json, seed, status) VALUES ('e-a', 'e', 0, 1, '{}', 5, 1);")
                    .ok());
  }
  auto store = SqliteResultStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->SchemaVersion(), SqliteResultStore::LatestSchemaVersion());
  auto runs = (*store)->ListRuns("e");
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_TRUE((*runs)[0].tags().empty());
  ASSERT_TRUE((*store)->MarkRunning("e-a", 1000, {{"build", "patched"}}).ok());
  EXPECT_EQ((*(*store)->ListRuns("e"))[0].tags().at("build"), "patched");
}

// A controller and a reader (`rcbench list`, the resume test's poller) may open a new file at
// the same moment; each must see the schema migrated exactly once, never "table exists".
TEST_F(StoreTest, ConcurrentOpensOfANewFileAllSucceed) {
  for (int round = 0; round < 10; ++round) {
    const std::string path = (dir_ / ("race-" + std::to_string(round) + ".db")).string();
    std::vector<absl::Status> results(6);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < results.size(); ++i) {
      threads.emplace_back([&, i] { results[i] = SqliteResultStore::Open(path).status(); });
    }
    for (auto& t : threads) t.join();
    for (const auto& st : results) ASSERT_TRUE(st.ok()) << "round " << round << ": " << st;
    auto store = SqliteResultStore::Open(path);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(*(*store)->SchemaVersion(), SqliteResultStore::LatestSchemaVersion());
  }
}

TEST_F(StoreTest, NewerSchemaThanKnownIsRefused) {
  {
    auto store = SqliteResultStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Exec("PRAGMA user_version = 99").ok());
  }
  auto store = SqliteResultStore::Open(path_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, AddingAnExperimentTwiceDoesNotDuplicateRuns) {
  auto store = *SqliteResultStore::Open(path_);
  ExperimentRecord e{"e", "name: e", 5, "now"};
  ASSERT_TRUE(store->AddExperiment(e, TwoRuns()).ok());
  ASSERT_TRUE(store->AddExperiment(e, TwoRuns()).ok());
  auto runs = *store->ListRuns("e");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_PENDING);
  EXPECT_EQ(runs[1].factors().at("f"), "y");
  EXPECT_EQ(store->GetExperiment("e")->value().seed, 5u);
}

TEST_F(StoreTest, CompletingARunWritesEveryRowOnce) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
  ASSERT_TRUE(store->CompleteRun(Outcome("e-a")).ok());
  for (const char* table : {"run_hosts", "class_results", "container_results", "samples"}) {
    EXPECT_EQ(*store->CountRows(table, "e-a"), 1) << table;
  }
  auto results = *store->GetResults("e-a", true);
  EXPECT_EQ(results.run().status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_EQ(results.classes(0).throughput_rps(), 123.5);
  EXPECT_EQ(results.containers(0).cpu_cores(), 0.25);
  EXPECT_EQ(results.hosts(0).kernel_release(), "6.1.0-test");
  EXPECT_EQ(results.samples_size(), 1);
}

TEST_F(StoreTest, CompletingARunTwiceFailsAndLeavesItsRowsAlone) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
  ASSERT_TRUE(store->CompleteRun(Outcome("e-a")).ok());
  EXPECT_EQ(store->CompleteRun(Outcome("e-a")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*store->CountRows("class_results", "e-a"), 1);
  EXPECT_EQ(store->MarkRunning("e-a", 2000, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, AFailedWriteRollsBackTheWholeRun) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
  RunOutcome bad = Outcome("e-a");
  bad.classes.push_back(bad.classes[0]);  // same primary key twice
  EXPECT_FALSE(store->CompleteRun(bad).ok());
  EXPECT_EQ(*store->CountRows("class_results", "e-a"), 0);
  EXPECT_EQ(*store->CountRows("run_hosts", "e-a"), 0);
  EXPECT_EQ((*store->ListRuns("e"))[0].status(), rcbench::v1::RUN_STATUS_RUNNING);
  EXPECT_TRUE(store->CompleteRun(Outcome("e-a")).ok());
}

TEST_F(StoreTest, RunsLeftRunningAreMarkedInterrupted) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-b", 1000, {}).ok());
  EXPECT_EQ(*store->MarkStaleRunsInterrupted("e"), std::vector<std::string>{"e-b"});
  auto runs = *store->ListRuns("e");
  EXPECT_EQ(runs[1].status(), rcbench::v1::RUN_STATUS_INTERRUPTED);
  ASSERT_EQ(runs[1].attempts_size(), 1);
  EXPECT_EQ(runs[1].attempts(0).status(), rcbench::v1::RUN_STATUS_INTERRUPTED);
  EXPECT_EQ(runs[1].attempts(0).reason(), "controller stopped mid-run");
  EXPECT_EQ(*store->MarkRunning("e-b", 2000, {}), 2);
}

TEST_F(StoreTest, ResultsSurviveReopening) {
  {
    auto store = *SqliteResultStore::Open(path_);
    ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
    ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
    ASSERT_TRUE(store->CompleteRun(Outcome("e-a")).ok());
  }
  auto store = *SqliteResultStore::Open(path_);
  EXPECT_EQ((*store->ListRuns("e"))[0].status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_EQ(*store->ListExperiments(), std::vector<std::string>{"e"});
}

TEST_F(StoreTest, UnknownRunIsNotFound) {
  auto store = *SqliteResultStore::Open(path_);
  EXPECT_EQ(store->GetResults("nope", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->CompleteRun(Outcome("nope")).code(), absl::StatusCode::kNotFound);
}

rcbench::v1::BenchmarkResult Benchmark(const std::string& name, double real_ns) {
  rcbench::v1::BenchmarkResult b;
  b.set_name(name);
  b.set_run_name(name);
  b.set_iterations(1000);
  b.set_real_time_ns(real_ns);
  b.set_cpu_time_ns(real_ns / 2);
  (*b.mutable_counters())["reconciliations"] = 3;
  return b;
}

// Writes experiment "e" with runs e-a and e-b PENDING, the way a controller of schema version
// 1 to 4 did (this code's AddExperiment writes the campaign column of version 5).
void WriteOldStyleExperiment(SqliteResultStore& store) {
  ASSERT_TRUE(store
                  .Exec("INSERT INTO experiments VALUES ('e', 'name: e', 5, 'now');"
                        "INSERT INTO runs (run_id, experiment, ord, repetition, factors_json, "
                        "seed, status) VALUES ('e-a', 'e', 0, 1, '{\"f\":\"x\"}', 5, 1);"
                        "INSERT INTO runs (run_id, experiment, ord, repetition, factors_json, "
                        "seed, status) VALUES ('e-b', 'e', 1, 1, '{\"f\":\"y\"}', 5, 1);")
                  .ok());
}

// Writes run `id` as finished, the way a controller of schema version 2 or 3 did (this code's
// MarkRunning/CompleteRun need the attempts table of version 4).
void WriteOldStyleCompletedRun(SqliteResultStore& store, const std::string& id,
                               const rcbench::v1::ClassResult& c,
                               const rcbench::v1::UsageReport& sample) {
  auto hex = [](const std::string& bytes) {
    std::string out;
    for (unsigned char b : bytes) absl::StrAppend(&out, absl::Hex(b, absl::kZeroPad2));
    return out;
  };
  ASSERT_TRUE(store
                  .Exec(absl::StrCat("UPDATE runs SET status = 3, started_at_ms = 1000, "
                                     "finished_at_ms = 2000, tags_json = '{\"kernel\":\"old\"}' "
                                     "WHERE run_id = '",
                                     id, "'"))
                  .ok());
  ASSERT_TRUE(store
                  .Exec(absl::StrCat("INSERT INTO class_results VALUES ('", id, "', '",
                                     c.class_name(), "', ", c.throughput_rps(),
                                     ", 42, 0, 0, 0, 0, 0, X'", hex(c.SerializeAsString()), "')"))
                  .ok());
  ASSERT_TRUE(store
                  .Exec(absl::StrCat("INSERT INTO samples VALUES ('", id, "', 'agent-1', ",
                                     sample.sequence(), ", 'usage', X'",
                                     hex(sample.SerializeAsString()), "')"))
                  .ok());
}

TEST_F(StoreTest, SchemaTwoFileWithResultsMigratesToBenchmarkTableAndKeepsItsRows) {
  {
    auto v2 = SqliteResultStore::OpenAtVersion(path_, 2);
    ASSERT_TRUE(v2.ok()) << v2.status();
    WriteOldStyleExperiment(**v2);
    RunOutcome o = Outcome("e-a");
    WriteOldStyleCompletedRun(**v2, "e-a", o.classes[0], o.usage_samples[0]);
    EXPECT_FALSE((*v2)->CountRows("benchmark_results", "e-a").ok());
  }
  auto store = SqliteResultStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->SchemaVersion(), SqliteResultStore::LatestSchemaVersion());
  auto old = (*store)->GetResults("e-a", true);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->run().tags().at("kernel"), "old");
  EXPECT_EQ(old->classes(0).throughput_rps(), 123.5);
  EXPECT_EQ(old->samples_size(), 1);
  EXPECT_EQ(old->benchmarks_size(), 0);
  // The migrated file takes benchmark rows.
  RunOutcome o;
  o.run_id = "e-b";
  o.benchmarks = {Benchmark("BM_Create", 300000), Benchmark("BM_Destroy", 400000)};
  ASSERT_TRUE((*store)->MarkRunning("e-b", 2000, {}).ok());
  ASSERT_TRUE((*store)->CompleteRun(o).ok());
  EXPECT_EQ(*(*store)->CountRows("benchmark_results", "e-b"), 2);
}

TEST_F(StoreTest, SchemaThreeFileGetsOneAttemptPerFinishedRunAndNoneForPendingOnes) {
  {
    auto v3 = SqliteResultStore::OpenAtVersion(path_, 3);
    ASSERT_TRUE(v3.ok()) << v3.status();
    WriteOldStyleExperiment(**v3);
    RunOutcome o = Outcome("e-a");
    WriteOldStyleCompletedRun(**v3, "e-a", o.classes[0], o.usage_samples[0]);
  }
  auto store = SqliteResultStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto runs = *(*store)->ListRuns("e");
  ASSERT_EQ(runs[0].attempts_size(), 1);
  EXPECT_EQ(runs[0].attempts(0).status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_EQ(runs[0].attempts(0).started_at().seconds(), 1);
  EXPECT_EQ(runs[1].attempts_size(), 0);
  // The pending run's first attempt is number 1.
  EXPECT_EQ(*(*store)->MarkRunning("e-b", 3000, {}), 1);
}

TEST_F(StoreTest, ASchemaFourFileKeepsEveryRunInOneLegacyCampaignPerExperiment) {
  {
    auto v4 = SqliteResultStore::OpenAtVersion(path_, 4);
    ASSERT_TRUE(v4.ok()) << v4.status();
    WriteOldStyleExperiment(**v4);
    RunOutcome o = Outcome("e-a");
    WriteOldStyleCompletedRun(**v4, "e-a", o.classes[0], o.usage_samples[0]);
  }
  auto store = SqliteResultStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto runs = *(*store)->ListRuns("e");
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& r : runs) EXPECT_EQ(r.campaign(), "legacy") << r.run_id();
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_EQ((*(*store)->GetResults("e-a", false)).classes_size(), 1);
  auto campaigns = *(*store)->ListCampaigns("e");
  ASSERT_EQ(campaigns.size(), 1u);
  EXPECT_EQ(campaigns[0].name, "legacy");
  EXPECT_EQ(campaigns[0].kernel_identity, "");
}

TEST_F(StoreTest, CampaignsKeepTheirOwnRunsInCreationOrder) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, {}).ok());
  ASSERT_TRUE(store->AddCampaign({"e", "z-first", "srv=6.1 #1", {{"kernel", "a"}}, "t1"}).ok());
  ASSERT_TRUE(store->AddCampaign({"e", "a-second", "srv=6.2 #1", {}, "t2"}).ok());
  EXPECT_EQ(store->AddCampaign({"e", "a-second", "x", {}, "t3"}).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(
      store->AddExperiment({"e", "name: e", 5, "now"}, {{"e-2a", 0, 1, {}}}, "a-second").ok());
  ASSERT_TRUE(
      store->AddExperiment({"e", "name: e", 5, "now"}, {{"e-1a", 0, 1, {}}}, "z-first").ok());
  auto runs = *store->ListRuns("e");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].campaign(), "z-first");
  EXPECT_EQ(runs[1].campaign(), "a-second");
  auto c = *store->GetCampaign("e", "z-first");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kernel_identity, "srv=6.1 #1");
  EXPECT_EQ(c->tags.at("kernel"), "a");
  EXPECT_FALSE(store->GetCampaign("e", "nope")->has_value());
}

TEST_F(StoreTest, EveryAttemptIsKeptWithItsReasonAndOnlyTheLastOneCompletes) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  EXPECT_EQ(*store->MarkRunning("e-a", 1000, {}), 1);
  ASSERT_TRUE(store->RetryLater("e-a", "load generator cli lost", 1500).ok());
  auto runs = *store->ListRuns("e");
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_PENDING);
  EXPECT_EQ(runs[0].error(), "load generator cli lost");
  // Not running any more: a second RetryLater is refused.
  EXPECT_EQ(store->RetryLater("e-a", "again", 1600).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*store->MarkRunning("e-a", 2000, {}), 2);
  ASSERT_TRUE(store->CompleteRun(Outcome("e-a")).ok());
  runs = *store->ListRuns("e");
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_COMPLETED);
  ASSERT_EQ(runs[0].attempts_size(), 2);
  EXPECT_EQ(runs[0].attempts(0).status(), rcbench::v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(runs[0].attempts(0).infrastructure());
  EXPECT_EQ(runs[0].attempts(0).reason(), "load generator cli lost");
  EXPECT_EQ(runs[0].attempts(0).finished_at().seconds(), 1);
  EXPECT_EQ(runs[0].attempts(1).status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_FALSE(runs[0].attempts(1).infrastructure());
  EXPECT_EQ(*store->CountRows("attempts", "e-a"), 2);
  // Results are stored once, by the completed attempt.
  EXPECT_EQ(*store->CountRows("class_results", "e-a"), 1);
}

TEST_F(StoreTest, RetryFailedGivesFailedRunsANewBudgetAndKeepsTheirHistory) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
  RunOutcome failed;
  failed.run_id = "e-a";
  failed.status = rcbench::v1::RUN_STATUS_FAILED;
  failed.error = "agent srv lost";
  failed.infrastructure = true;
  ASSERT_TRUE(store->CompleteRun(failed).ok());
  EXPECT_EQ(*store->ResetFailedRuns("e"), 1);
  auto runs = *store->ListRuns("e");
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_PENDING);
  EXPECT_EQ(runs[0].attempts_before_retry(), 1u);
  ASSERT_EQ(runs[0].attempts_size(), 1);
  EXPECT_TRUE(runs[0].attempts(0).infrastructure());
  EXPECT_EQ(*store->MarkRunning("e-a", 2000, {}), 2);
}

TEST_F(StoreTest, BenchmarkResultsRoundTripInOutputOrder) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
  RunOutcome o;
  o.run_id = "e-a";
  o.benchmarks = {Benchmark("BM_Z", 2), Benchmark("BM_A", 1)};
  o.benchmarks[1].set_aggregate_name("median");
  o.benchmarks[1].set_label("4 files");
  ASSERT_TRUE(store->CompleteRun(o).ok());
  auto results = *store->GetResults("e-a", false);
  ASSERT_EQ(results.benchmarks_size(), 2);
  EXPECT_EQ(results.benchmarks(0).name(), "BM_Z");
  EXPECT_EQ(results.benchmarks(1).name(), "BM_A");
  EXPECT_EQ(results.benchmarks(1).aggregate_name(), "median");
  EXPECT_EQ(results.benchmarks(1).label(), "4 files");
  EXPECT_EQ(results.benchmarks(1).iterations(), 1000u);
  EXPECT_EQ(results.benchmarks(1).real_time_ns(), 1);
  EXPECT_EQ(results.benchmarks(1).cpu_time_ns(), 0.5);
  EXPECT_EQ(results.benchmarks(1).counters().at("reconciliations"), 3);
}

TEST_F(StoreTest, AFailedRunKeepsNoBenchmarkRows) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
  RunOutcome o = Outcome("e-a");
  o.benchmarks = {Benchmark("BM_Create", 1)};
  // Written after the benchmark rows; the same primary key twice fails the transaction.
  o.containers.push_back(o.containers[0]);
  EXPECT_FALSE(store->CompleteRun(o).ok());
  EXPECT_EQ(*store->CountRows("benchmark_results", "e-a"), 0);
}

TEST_F(StoreTest, ADamagedPageIsDataLossNamingTheFileWhenOpened) {
  int64_t pages = testing::StoreFileWithRuns(path_, 60);
  ASSERT_GT(pages, 8);
  ASSERT_TRUE(testing::DamagePage(path_, pages / 2));
  auto store = SqliteResultStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_THAT(std::string(store.status().message()),
              ::testing::HasSubstr(absl::StrCat("results store ", path_)));
}

TEST_F(StoreTest, AFullDiskFailsTheWriteAndKeepsEveryEarlierRun) {
  auto store = *SqliteResultStore::Open(path_);
  ASSERT_TRUE(store->AddExperiment({"e", "name: e", 5, "now"}, TwoRuns()).ok());
  ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
  ASSERT_TRUE(store->CompleteRun(Outcome("e-a")).ok());
  ASSERT_TRUE(store->MarkRunning("e-b", 2000, {}).ok());
  // The file may not grow past its current size: what a full file system looks like to SQLite.
  ASSERT_TRUE(store->Exec("PRAGMA max_page_count = 1").ok());
  RunOutcome big = Outcome("e-b");
  big.usage_samples[0].set_agent_instance(std::string(64 * 1024, 'x'));
  absl::Status s = store->CompleteRun(big);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr(
                  absl::StrCat("results store ", path_, ": sqlite: database or disk is full")));
  EXPECT_EQ(*store->CountRows("samples", "e-b"), 0);
  auto earlier = store->GetResults("e-a", true);
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  EXPECT_EQ(earlier->run().status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_EQ(earlier->classes(0).throughput_rps(), 123.5);
  EXPECT_EQ(earlier->samples_size(), 1);
}

}  // namespace
}  // namespace rcbench::controller
