#include "controller/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/matrix.h"
#include "controller/store.h"
#include "controller/testing/store_files.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

struct CliResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Runs `rcbench ARGS...` in this process, capturing what it prints.
CliResult Rcbench(std::vector<std::string> args) {
  args.insert(args.begin(), "rcbench");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  CliResult r;
  r.exit_code = RunCli(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rcbench-cli-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "rcbench.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  // A store of 60 runs with one damaged page in the middle of the file.
  void DamagedStore() {
    int64_t pages = testing::StoreFileWithRuns(db_, 60);
    ASSERT_GT(pages, 8);
    ASSERT_TRUE(testing::DamagePage(db_, pages / 2));
  }
  static std::string TenMillionRuns() {
    std::string yaml = "name: big\nfactors:\n";
    for (char f = 'a'; f < 'a' + 7; ++f) {
      yaml += std::string("  ") + f + ": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
    }
    return yaml;
  }

  std::filesystem::path dir_;
  std::string db_;
};

TEST_F(CliTest, ListOfAHealthyStorePrintsEveryRun) {
  ASSERT_GT(testing::StoreFileWithRuns(db_, 3), 0);
  CliResult r = Rcbench({"list", "--db", db_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("e-0"));
  EXPECT_THAT(r.out, HasSubstr("e-2"));
}

TEST_F(CliTest, ListOfADamagedStoreFailsNamingTheFile) {
  DamagedStore();
  CliResult r = Rcbench({"list", "--db", db_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("results store " + db_));
  EXPECT_THAT(r.err, HasSubstr("is damaged"));
}

TEST_F(CliTest, ListJsonOfADamagedStoreFailsInsteadOfPrintingAnEmptyList) {
  DamagedStore();
  CliResult r = Rcbench({"list", "--json", "--db", db_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("results store " + db_));
}

TEST_F(CliTest, ReportOfADamagedStoreFailsAndWritesNoReport) {
  DamagedStore();
  std::string out_dir = (dir_ / "report").string();
  CliResult r = Rcbench({"report", "--db", db_, "--out", out_dir, "--no-plots"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("results store " + db_));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(out_dir) / "report.md"));
}

TEST_F(CliTest, ListOfAnExperimentWithoutRunsIsAnError) {
  ASSERT_GT(testing::StoreFileWithRuns(db_, 1), 0);
  CliResult r = Rcbench({"list", "--db", db_, "--experiment", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no runs in results store " + db_ + " for experiment \"nope\""));
}

TEST_F(CliTest, ValidateRefusesAMatrixOverTheRunLimit) {
  std::string spec = Write("big.yaml", TenMillionRuns());
  CliResult r = Rcbench({"validate", spec});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(spec + ":3:3: the factor matrix plans 10000000 runs"));
}

TEST_F(CliTest, DryRunRefusesAMatrixOverTheRunLimit) {
  std::string spec = Write("big.yaml", TenMillionRuns());
  CliResult r = Rcbench({"run", "--dry-run", "--db", db_, spec});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("the factor matrix plans 10000000 runs"));
}

TEST_F(CliTest, MaxPlannedRunsSetsTheRunLimit) {
  std::string spec = Write("small.yaml", "name: s\nfactors:\n  a: [1, 2, 3]\n");
  EXPECT_EQ(Rcbench({"validate", "--max-planned-runs", "3", spec}).exit_code, 0);
  CliResult r = Rcbench({"validate", "--max-planned-runs", "2", spec});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("more than the limit of 2 (--max-planned-runs)"));
  EXPECT_EQ(Rcbench({"validate", "--max-planned-runs", "0", spec}).exit_code, 2);
}

TEST_F(CliTest, BadFaultFlagsAreUsageErrorsNamingTheFlag) {
  std::string spec = Write("small.yaml", "name: s\nfactors:\n  a: [1, 2]\n");
  struct Case {
    std::vector<std::string> flags;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {{"--max-attempts", "0"}, "--max-attempts \"0\": expected an integer 1..100"},
           {{"--host-wait", "soon"}, "--host-wait \"soon\": expected a duration"},
           {{"--lease", "100ms"}, "--lease \"100ms\": expected a duration from 500ms"},
           {{"--lease", "2s", "--lease-renew", "1500ms"}, "at most half the lease"},
       }) {
    std::vector<std::string> argv = {"run", "--dry-run", "--db", db_, spec};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    CliResult r = Rcbench(argv);
    EXPECT_EQ(r.exit_code, 2) << c.flags[0];
    EXPECT_THAT(r.err, HasSubstr(c.expect)) << r.err;
  }
  EXPECT_EQ(Rcbench({"run", "--dry-run", "--db", db_, spec, "--max-attempts", "5", "--host-wait",
                     "5s", "--lease", "4s", "--retry-failed"})
                .exit_code,
            0);
}

TEST_F(CliTest, AnImpossibleLeaseInTheSpecIsAValidationErrorWithItsLine) {
  std::string spec = Write("lease.yaml", "name: s\nlease:\n  length: 1s\n  renew_every: 900ms\n");
  CliResult r = Rcbench({"validate", spec});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(spec + ":3:3: lease: renewal every 900ms"));
}

TEST_F(CliTest, ListShowsEveryAttemptWithItsReason) {
  {
    auto store = *SqliteResultStore::Open(db_);
    ASSERT_TRUE(store->AddExperiment({"e", "name: e", 1, "now"}, {{"e-a", 0, 1, {}}}).ok());
    ASSERT_TRUE(store->MarkRunning("e-a", 1000, {}).ok());
    ASSERT_TRUE(store->RetryLater("e-a", "agent srv lost: usage stream", 2000).ok());
    ASSERT_TRUE(store->MarkRunning("e-a", 3000, {}).ok());
    RunOutcome o;
    o.run_id = "e-a";
    ASSERT_TRUE(store->CompleteRun(o).ok());
  }
  CliResult text = Rcbench({"list", "--db", db_});
  EXPECT_THAT(text.out, HasSubstr("(2 attempts)"));
  CliResult r = Rcbench({"list", "--db", db_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j[0]["attempts"].size(), 2u);
  EXPECT_EQ(j[0]["attempts"][0]["status"], "failed");
  EXPECT_EQ(j[0]["attempts"][0]["infrastructure"], true);
  EXPECT_EQ(j[0]["attempts"][0]["reason"], "agent srv lost: usage stream");
  EXPECT_EQ(j[0]["attempts"][0]["started_at"], "1970-01-01T00:00:01.000Z");
  EXPECT_EQ(j[0]["attempts"][1]["status"], "completed");
}

// Ten campaigns (tag build=gNN, started in that order) of three runs each; class "high"
// throughput steps up 15% at the seventh (point 6).
void StoreOfTenCampaigns(const std::string& db) {
  auto store = *SqliteResultStore::Open(db);
  std::vector<PlannedRun> planned;
  for (int i = 0; i < 30; ++i) {
    planned.push_back({absl::StrCat("h-", i), static_cast<uint32_t>(i), 1, {}});
  }
  ASSERT_TRUE(store->AddExperiment({"h", "name: h", 1, "now"}, planned).ok());
  for (int i = 0; i < 30; ++i) {
    const int group = i / 3;
    ASSERT_TRUE(store
                    ->MarkRunning(planned[i].run_id, 1000 * (i + 1),
                                  {{"build", absl::StrFormat("g%02d", group)}})
                    .ok());
    RunOutcome o;
    o.run_id = planned[i].run_id;
    auto& c = o.classes.emplace_back();
    c.set_class_name("high");
    c.set_throughput_rps((group >= 6 ? 1150 : 1000) + (i % 3) * 4);
    ASSERT_TRUE(store->CompleteRun(o).ok());
  }
}

TEST_F(CliTest, HistoryFindsTheCampaignWhereThroughputStepped) {
  StoreOfTenCampaigns(db_);
  CliResult r = Rcbench({"history", "--db", db_, "--experiment", "h", "--metric", "throughput_rps",
                         "--class", "high"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("by campaign: 30 completed runs in 10 points"));
  EXPECT_THAT(r.out, HasSubstr("at point 6 (build=g06): 1004.0 -> 1154.0 (+14.9%)"));
  EXPECT_THAT(r.out,
              HasSubstr("p-value <= 0.001 corrected for the search, minimum segment 3 points"));
}

TEST_F(CliTest, HistoryTestsMediansOnRequestAndWarnsWhenPointsDifferAmongThemselves) {
  StoreOfTenCampaigns(db_);
  CliResult runs = Rcbench({"history", "--db", db_, "--experiment", "h", "--metric",
                            "throughput_rps", "--class", "high", "--json"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  EXPECT_THAT(runs.out, HasSubstr("\"test_on\": \"runs\""));
  // Every point holds the same three values, so the points do not differ among themselves.
  EXPECT_THAT(runs.out, Not(HasSubstr("warning: the points differ")));

  CliResult medians = Rcbench({"history", "--db", db_, "--experiment", "h", "--metric",
                               "throughput_rps", "--class", "high", "--test-on", "medians"});
  ASSERT_EQ(medians.exit_code, 0) << medians.err;
  EXPECT_THAT(medians.out, HasSubstr("over the point medians (where to split and the t-test)"));
  EXPECT_THAT(medians.out, HasSubstr("at point 6 (build=g06)"));

  CliResult bad = Rcbench({"history", "--db", db_, "--experiment", "h", "--metric",
                           "throughput_rps", "--class", "high", "--test-on", "values"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--test-on \"values\": expected runs or medians"));
}

TEST_F(CliTest, HistoryJsonCarriesPointsChangePointsAndParameters) {
  StoreOfTenCampaigns(db_);
  CliResult r =
      Rcbench({"history", "--db", db_, "--experiment", "h", "--metric",
               "throughput_rps{class=high}", "--json", "--p-value", "0.01", "--min-segment", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["points"].size(), 10u);
  EXPECT_EQ(j["points"][6]["label"], "build=g06");
  EXPECT_EQ(j["points"][6]["runs"], 3);
  EXPECT_EQ(j["points"][6]["median"], 1154.0);
  ASSERT_EQ(j["change_points"].size(), 1u);
  EXPECT_EQ(j["change_points"][0]["index"], 6);
  EXPECT_EQ(j["parameters"]["p_value"], 0.01);
  EXPECT_EQ(j["parameters"]["min_segment"], 2);
}

TEST_F(CliTest, HistoryOfAnUnknownMetricFailsListingTheMetrics) {
  StoreOfTenCampaigns(db_);
  CliResult r = Rcbench({"history", "--db", db_, "--experiment", "h", "--metric", "goodput"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no metric \"goodput\""));
  EXPECT_THAT(r.err, HasSubstr("throughput_rps{class=high}"));
}

TEST_F(CliTest, HistoryOfAnUnknownExperimentFailsNamingIt) {
  StoreOfTenCampaigns(db_);
  CliResult r = Rcbench({"history", "--db", db_, "--experiment", "nope", "--metric", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no experiment \"nope\""));
  EXPECT_THAT(r.err, HasSubstr("experiments: h"));
}

// A store with 8 runs per side of kernel=old/new in two cells (size=small, size=large): the
// large cell's p99 latency is 30% higher on the new kernel, the small cell's unchanged.
void TwoCellStore(const std::string& db) {
  auto store = *SqliteResultStore::Open(db);
  uint32_t index = 0;
  for (const std::string kernel : {"old", "new"}) {
    for (const std::string size : {"small", "large"}) {
      for (int rep = 1; rep <= 8; ++rep) {
        std::map<std::string, std::string> factors = {{"kernel", kernel}, {"size", size}};
        PlannedRun p{MakeRunId("e", factors, rep), index++, static_cast<uint32_t>(rep), factors};
        ASSERT_TRUE(store->AddExperiment({"e", "name: e\n", 1, "now"}, {p}).ok());
        ASSERT_TRUE(store->MarkRunning(p.run_id, 1, {}).ok());
        RunOutcome o;
        o.run_id = p.run_id;
        auto& c = o.classes.emplace_back();
        c.set_class_name("high");
        const bool slower = kernel == "new" && size == "large";
        c.set_latency_p99_us((slower ? 130 : 100) + 0.1 * rep);
        ASSERT_TRUE(store->CompleteRun(o).ok());
      }
    }
  }
}

TEST_F(CliTest, CompareWithOneWorseCellOfTwoIsWorseOverallAndExitsOne) {
  ASSERT_NO_FATAL_FAILURE(TwoCellStore(db_));
  std::string junit = (dir_ / "compare.xml").string();
  CliResult r = Rcbench({"compare", "--db", db_, "--baseline", "kernel=old", "--candidate",
                         "kernel=new", "--metric", "latency_p99_us", "--json", "--junit", junit});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["overall"], "WORSE");
  ASSERT_EQ(j["cells"].size(), 2u);
  ASSERT_EQ(j["metrics"].size(), 1u);
  const auto& metric = j["metrics"][0];
  EXPECT_EQ(metric["metric"], "latency_p99_us{class=high}");
  EXPECT_EQ(metric["verdict"], "WORSE");
  std::map<std::string, std::string> verdicts;
  for (const auto& cell : metric["cells"]) verdicts[cell["cell"]] = cell["verdict"];
  EXPECT_EQ(verdicts,
            (std::map<std::string, std::string>{{"size=large", "WORSE"}, {"size=small", "SAME"}}));
  std::stringstream xml;
  xml << std::ifstream(junit).rdbuf();
  EXPECT_THAT(xml.str(), HasSubstr("tests=\"2\" failures=\"1\" skipped=\"0\""));
  EXPECT_THAT(xml.str(), HasSubstr("name=\"latency_p99_us{class=high} [size=large]\">"
                                   "<failure message=\"WORSE\">"));
}

TEST_F(CliTest, CompareTextShowsEachCellAndTheOverallVerdict) {
  ASSERT_NO_FATAL_FAILURE(TwoCellStore(db_));
  CliResult r = Rcbench({"compare", "--db", db_, "--baseline", "kernel=old", "--candidate",
                         "kernel=new", "--metric", "latency_p99_us"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 cells"));
  EXPECT_THAT(r.out, HasSubstr("cell size=large: 8 vs 8 runs"));
  EXPECT_THAT(r.out, HasSubstr("latency_p99_us{class=high}: WORSE (1 worse, 0 better, 0 "
                               "unknown, 1 same of 2 cells)"));
  EXPECT_THAT(r.out, HasSubstr("overall: WORSE"));
}

TEST_F(CliTest, CompareOfTheSameCellAgainstItselfIsSameAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(TwoCellStore(db_));
  CliResult r = Rcbench({"compare", "--db", db_, "--baseline", "kernel=old,size=small",
                         "--candidate", "kernel=new,size=small", "--metric", "latency_p99_us"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("overall: SAME"));
}

}  // namespace
}  // namespace rcbench::controller
