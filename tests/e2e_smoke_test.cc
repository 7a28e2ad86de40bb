// End to end: experiments/smoke.yaml in local mode through the real binaries (agent, load
// generator, server), then report and compare on what it stored.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "controller/store.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"

namespace rcbench::e2e {
namespace {

using ::testing::HasSubstr;

class SmokeE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!MissingBinary().empty()) return;
    dir_ = new TempDir("e2e-smoke");
    auto start = std::chrono::steady_clock::now();
    run_ = new Result(RunRcbench({"run", "experiments/smoke.yaml", "--db", *dir_ / "rcbench.db",
                                  "--report", *dir_ / "report", "--work-dir", *dir_ / "work"},
                                 *dir_ / "run.log"));
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
    run_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  }
  std::unique_ptr<controller::SqliteResultStore> Store() {
    return *controller::SqliteResultStore::Open(*dir_ / "rcbench.db");
  }

  static TempDir* dir_;
  static Result* run_;
  static double seconds_;
};

TempDir* SmokeE2eTest::dir_ = nullptr;
Result* SmokeE2eTest::run_ = nullptr;
double SmokeE2eTest::seconds_ = 0;

TEST_F(SmokeE2eTest, RunCompletesEveryRunInUnderAMinute) {
  EXPECT_EQ(run_->exit_code, 0) << run_->output;
  EXPECT_THAT(run_->output, HasSubstr("8 completed, 0 failed"));
  EXPECT_LT(seconds_, 60);
}

TEST_F(SmokeE2eTest, EveryRunHasThroughputPerClassAndHostFacts) {
  auto store = Store();
  auto runs = *store->ListRuns("smoke");
  ASSERT_EQ(runs.size(), 8u);
  for (const auto& run : runs) {
    ASSERT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store->GetResults(run.run_id(), false);
    std::set<std::string> classes;
    for (const auto& c : results.classes()) {
      classes.insert(c.class_name());
      EXPECT_GT(c.throughput_rps(), 0) << run.run_id() << " " << c.class_name();
      EXPECT_GT(c.latency_p50_us(), 0) << run.run_id() << " " << c.class_name();
    }
    EXPECT_EQ(classes, (std::set<std::string>{"high", "low"})) << run.run_id();
    ASSERT_EQ(results.hosts_size(), 1);
    EXPECT_FALSE(results.hosts(0).kernel_release().empty());
    EXPECT_GT(results.hosts(0).cpu_count(), 0u);
  }
}

TEST_F(SmokeE2eTest, RunsWithContainersOnHavePerContainerCpuFromTheAgent) {
  auto store = Store();
  int runs_with_cpu = 0;
  auto runs = *store->ListRuns("smoke");
  for (const auto& run : runs) {
    if (run.factors().at("containers") != "on") continue;
    auto results = *store->GetResults(run.run_id(), true);
    double cpu = 0;
    for (const auto& c : results.containers()) cpu += c.cpu_seconds();
    runs_with_cpu += cpu > 0;
    EXPECT_GT(results.samples_size(), 0) << run.run_id();
  }
  EXPECT_EQ(runs_with_cpu, 4);
}

TEST_F(SmokeE2eTest, ReportHasTablesAndPngAndSvgPlots) {
  std::string md = ReadFile(*dir_ / "report/report.md");
  EXPECT_THAT(md, HasSubstr("# smoke"));
  EXPECT_THAT(md, HasSubstr("| containers | low_clients | class |"));
  for (const char* f : {"smoke-high_latency.png", "smoke-high_latency.svg",
                        "smoke-low_throughput.png", "smoke-low_throughput.svg"}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(*dir_ / (std::string("report/plots/") + f), ec);
    EXPECT_FALSE(ec) << f;
    EXPECT_GT(size, 1000u) << f;
  }
}

TEST_F(SmokeE2eTest, ReportWritesEveryFormat) {
  for (const char* format : {"html", "csv", "json"}) {
    Result r = RunRcbench({"report", "--db", *dir_ / "rcbench.db", "--format", format, "--out",
                           *dir_ / "r2", "--no-plots"},
                          *dir_ / "report.log");
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  auto json = nlohmann::json::parse(ReadFile(*dir_ / "r2/report.json"));
  EXPECT_EQ(json.size(), 8u);
  EXPECT_THAT(ReadFile(*dir_ / "r2/report.csv"), HasSubstr("throughput_rps{class=high}"));
  EXPECT_THAT(ReadFile(*dir_ / "r2/report.html"), HasSubstr("<table>"));
}

TEST_F(SmokeE2eTest, CompareOfTheTwoModesGivesAVerdict) {
  Result r = RunRcbench({"compare", "--db", *dir_ / "rcbench.db", "--baseline", "containers=off",
                         "--candidate", "containers=on", "--junit", *dir_ / "junit.xml"},
                        *dir_ / "compare.log");
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("throughput_rps{class=high}"));
  EXPECT_THAT(r.output, testing::ContainsRegex("overall: (SAME|BETTER|WORSE|UNKNOWN)"));
  EXPECT_THAT(ReadFile(*dir_ / "junit.xml"), HasSubstr("<testsuite name=\"rcbench compare"));
}

TEST_F(SmokeE2eTest, ListJsonShowsEveryRunWithItsStatus) {
  Result r = RunRcbench({"list", "--json", "--db", *dir_ / "rcbench.db"}, *dir_ / "list.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto json = nlohmann::json::parse(r.output);
  ASSERT_EQ(json.size(), 8u);
  for (const auto& run : json) {
    EXPECT_EQ(run["status"], "completed");
    EXPECT_TRUE(run["factors"].contains("containers"));
  }
}

TEST_F(SmokeE2eTest, RerunningSkipsEverything) {
  Result r = RunRcbench(
      {"run", "experiments/smoke.yaml", "--db", *dir_ / "rcbench.db", "--work-dir", *dir_ / "work"},
      *dir_ / "rerun.log");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("0 completed, 0 failed, 8 already done"));
}

}  // namespace
}  // namespace rcbench::e2e
