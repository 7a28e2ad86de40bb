// End to end: experiments/smoke.yaml in local mode through the real binaries (agent, load
// generator, server), then report and compare on what it stored.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>

#include "controller/analysis.h"
#include "controller/store.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"

namespace rcbench::e2e {
namespace {

using ::testing::HasSubstr;

// ctest runs each case in its own process; the smoke matrix runs once per build of the
// binaries: its results directory (under the build tree, keyed by the binaries' and smoke.yaml's
// timestamps) is reused by later cases, whose `rcbench run` then finds every run done.
class SmokeE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!MissingBinary().empty()) return;
    uint64_t key = 0;
    for (const char* b : {"rcbench", "rcbench-agent", "rcbench-loadgen", "rcbench-server"}) {
      auto t = std::filesystem::last_write_time(BinDir() + "/" + b).time_since_epoch().count();
      key = key * 1099511628211ull ^ static_cast<uint64_t>(t);
    }
    key = key * 1099511628211ull ^
          static_cast<uint64_t>(
              std::filesystem::last_write_time(SourceDir() + "/experiments/smoke.yaml")
                  .time_since_epoch()
                  .count());
    dir_ = new std::string(BinDir() + "/../e2e-smoke-" + std::to_string(key % 1000000007));
    std::filesystem::create_directories(*dir_);
    if (!std::filesystem::exists(*dir_ + "/first.log")) {
      auto start = std::chrono::steady_clock::now();
      Result first = RunRcbench({"run", "experiments/smoke.yaml", "--db", db(), "--report",
                                 *dir_ + "/report", "--work-dir", *dir_ + "/work"},
                                *dir_ + "/first.run");
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::ofstream(*dir_ + "/first.exit") << first.exit_code << " " << seconds;
      std::filesystem::rename(*dir_ + "/first.run", *dir_ + "/first.log");
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  }
  static std::string db() { return *dir_ + "/rcbench.db"; }
  std::string path(const std::string& p) { return *dir_ + "/" + p; }
  std::unique_ptr<controller::SqliteResultStore> Store() {
    return *controller::SqliteResultStore::Open(db());
  }

  static std::string* dir_;
};

std::string* SmokeE2eTest::dir_ = nullptr;

TEST_F(SmokeE2eTest, RunCompletesEveryRunInUnderAMinute) {
  int exit_code = -1;
  double seconds = 0;
  std::ifstream(path("first.exit")) >> exit_code >> seconds;
  std::string output = ReadFile(path("first.log"));
  EXPECT_EQ(exit_code, 0) << output;
  EXPECT_THAT(output, HasSubstr("8 completed, 0 failed"));
  EXPECT_LT(seconds, 60);
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

// Like with like: the server runs in a container of its own in both modes (server-PID, stored
// per run and shown as "server"), so its CPU is measured with containers off too.
TEST_F(SmokeE2eTest, EveryRunHasTheServersCpuWithContainersOffAndOn) {
  auto store = Store();
  std::map<std::string, int> runs_with_server_cpu;
  auto runs = *store->ListRuns("smoke");
  for (const auto& run : runs) {
    auto results = *store->GetResults(run.run_id(), false);
    // The previous run's server may still be exiting at the start of the window (slowly under
    // the sanitizers): its container is a second "server" here. The run's own one has the CPU.
    double server_cores = 0;
    for (const auto& c : results.containers()) {
      if (controller::StableContainerPath(c.id().path()) != "server") continue;
      server_cores = std::max(server_cores, c.cpu_cores());
    }
    EXPECT_GT(server_cores, 0) << run.run_id();
    runs_with_server_cpu[run.factors().at("containers")] += server_cores > 0;
  }
  EXPECT_EQ(runs_with_server_cpu["off"], 4);
  EXPECT_EQ(runs_with_server_cpu["on"], 4);
}

// The default experiment shows only containers that carry work: the server's, and with
// containers on its class containers.
TEST_F(SmokeE2eTest, ReportShowsTheServersContainersAndNoIdleOnes) {
  std::string report = ReadFile(path("report/report.md"));
  size_t begin = report.find("## Containers");
  ASSERT_NE(begin, std::string::npos) << report;
  std::string md = report.substr(begin, report.find("## Plots") - begin);
  EXPECT_THAT(md, ::testing::ContainsRegex(R"(\| off \| 2 \| server \| 2 \| [0-9]+\.[0-9]*[1-9])"));
  EXPECT_THAT(md, ::testing::ContainsRegex(R"(\| on \| 2 \| server \| 2 \| [0-9]+\.[0-9]*[1-9])"));
  EXPECT_THAT(md, HasSubstr("| on | 2 | server/class-"));
  EXPECT_THAT(md, ::testing::Not(HasSubstr("smoke-"))) << "the spec's own containers are gone";
  EXPECT_THAT(md, ::testing::Not(HasSubstr("| 0.000 | 0.000 | 0.000 |"))) << "no idle rows";
}

TEST_F(SmokeE2eTest, ReportHasTablesAndPngAndSvgPlots) {
  std::string md = ReadFile(path("report/report.md"));
  EXPECT_THAT(md, HasSubstr("# smoke"));
  EXPECT_THAT(md, HasSubstr("| containers | low_clients | class |"));
  for (const char* f : {"smoke-high_latency.png", "smoke-high_latency.svg",
                        "smoke-low_throughput.png", "smoke-low_throughput.svg"}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path(std::string("report/plots/") + f), ec);
    EXPECT_FALSE(ec) << f;
    EXPECT_GT(size, 1000u) << f;
  }
}

TEST_F(SmokeE2eTest, ReportWritesEveryFormat) {
  for (const char* format : {"html", "csv", "json"}) {
    Result r =
        RunRcbench({"report", "--db", db(), "--format", format, "--out", path("r2"), "--no-plots"},
                   path("report.log"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  auto json = nlohmann::json::parse(ReadFile(path("r2/report.json")));
  EXPECT_EQ(json.size(), 8u);
  EXPECT_THAT(ReadFile(path("r2/report.csv")), HasSubstr("throughput_rps{class=high}"));
  EXPECT_THAT(ReadFile(path("r2/report.html")), HasSubstr("<table>"));
}

TEST_F(SmokeE2eTest, CompareOfTheTwoModesGivesAVerdict) {
  Result r = RunRcbench({"compare", "--db", db(), "--baseline", "containers=off", "--candidate",
                         "containers=on", "--junit", path("junit.xml")},
                        path("compare.log"));
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("throughput_rps{class=high}"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("overall: (SAME|BETTER|WORSE|UNKNOWN)"));
  EXPECT_THAT(ReadFile(path("junit.xml")), HasSubstr("<testsuite name=\"rcbench compare"));
}

TEST_F(SmokeE2eTest, ListJsonShowsEveryRunWithItsStatus) {
  Result r = RunRcbench({"list", "--json", "--db", db()}, path("list.log"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto json = nlohmann::json::parse(r.output);
  ASSERT_EQ(json.size(), 8u);
  for (const auto& run : json) {
    EXPECT_EQ(run["status"], "completed");
    EXPECT_TRUE(run["factors"].contains("containers"));
  }
}

TEST_F(SmokeE2eTest, RerunningSkipsEverything) {
  Result r = RunRcbench({"run", "experiments/smoke.yaml", "--db", db(), "--work-dir", path("work")},
                        path("rerun.log"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("0 completed, 0 failed, 8 already done"));
}

}  // namespace
}  // namespace rcbench::e2e
