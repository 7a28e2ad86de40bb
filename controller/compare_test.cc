#include "controller/compare.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_join.h"
#include "controller/cli.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("rcbench-compare-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    std::filesystem::remove(path_);
    store_ = *SqliteResultStore::Open(path_.string());
    ASSERT_TRUE(store_->AddExperiment({"e", "name: e\n", 1, "now"}, {}).ok());
  }
  void TearDown() override {
    store_.reset();
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + s);
  }
  // Adds a completed run with one class result.
  void AddRun(const std::string& mode, int rep, double rps, double p50,
              const std::string& kernel = "6.1.0", const std::string& other = "x") {
    PlannedRun p{MakeRunId("e", {{"mode", mode}, {"other", other}}, rep),
                 n_++,
                 static_cast<uint32_t>(rep),
                 {{"mode", mode}, {"other", other}}};
    ASSERT_TRUE(store_->AddExperiment({"e", "name: e\n", 1, "now"}, {p}).ok());
    ASSERT_TRUE(store_->MarkRunning(p.run_id, 1, {{"build", mode == "on" ? "new" : "old"}}).ok());
    RunOutcome o;
    o.run_id = p.run_id;
    o.hosts["local"].set_kernel_release(kernel);
    auto& c = o.classes.emplace_back();
    c.set_class_name("high");
    c.set_throughput_rps(rps);
    c.set_latency_p50_us(p50);
    ASSERT_TRUE(store_->CompleteRun(o).ok());
  }

  std::filesystem::path path_;
  std::unique_ptr<SqliteResultStore> store_;
  uint32_t n_ = 0;
};

// A micro-benchmark run (rc_primitives) on `kernel`: BM_Create and BM_Reference_Syscall.
void AddBenchmarkRun(SqliteResultStore& store, const std::string& kernel, int rep, double create_ns,
                     double syscall_ns) {
  PlannedRun p{MakeRunId("prim", {{"kernel", kernel}}, rep),
               static_cast<uint32_t>(rep),
               static_cast<uint32_t>(rep),
               {{"kernel", kernel}}};
  ASSERT_TRUE(store.AddExperiment({"prim", "name: prim\n", 1, "now"}, {p}).ok());
  ASSERT_TRUE(store.MarkRunning(p.run_id, 1, {}).ok());
  RunOutcome o;
  o.run_id = p.run_id;
  for (auto [name, ns] :
       {std::pair{"BM_Create", create_ns}, {"BM_Reference_Syscall", syscall_ns}}) {
    auto& b = o.benchmarks.emplace_back();
    b.set_name(name);
    b.set_run_name(name);
    b.set_iterations(1000);
    b.set_real_time_ns(ns);
    b.set_cpu_time_ns(ns / 2);
  }
  ASSERT_TRUE(store.CompleteRun(o).ok());
}

TEST_F(CompareTest, SlowerCgroupOperationsOnAKernelAreWorse) {
  for (int i = 0; i < 5; ++i) AddBenchmarkRun(*store_, "old", i + 1, 300000 + 1000 * i, 250 + i);
  for (int i = 0; i < 5; ++i) AddBenchmarkRun(*store_, "new", i + 1, 450000 + 1000 * i, 250 + i);
  auto report = Compare(*store_, {"kernel=old", "kernel=new", "prim", {"time_per_op_ns"}});
  ASSERT_TRUE(report.ok()) << report.status();
  std::map<std::string, Verdict> verdicts;
  for (const auto& m : report->metrics) verdicts[m.metric] = m.verdict;
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts["time_per_op_ns{benchmark=BM_Create}"], Verdict::kWorse);
  EXPECT_EQ(verdicts["time_per_op_ns{benchmark=BM_Reference_Syscall}"], Verdict::kSame);
  EXPECT_TRUE(report->any_worse());
}

TEST(SelectorTest, ParsesTerms) {
  auto s = ParseSelector("kernel_release=6.1, tag.build = new");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].key, "tag.build");
  EXPECT_EQ((*s)[1].value, "new");
}

TEST(SelectorTest, TermWithoutEqualsIsRejected) {
  EXPECT_THAT(std::string(ParseSelector("kernel").status().message()),
              HasSubstr("expected KEY=VALUE"));
}

TEST_F(CompareTest, SlowerCandidateIsWorseAndFasterIsBetter) {
  for (int i = 0; i < 5; ++i) AddRun("off", i + 1, 1000 + i, 100 + i);
  for (int i = 0; i < 5; ++i) AddRun("on", i + 1, 800 + i, 80 + i);
  auto report = Compare(*store_, {"mode=off", "mode=on", "", {}});
  ASSERT_TRUE(report.ok()) << report.status();
  // 9 class metrics: throughput, 5 latencies, errors, the generator's CPU (cores, per request).
  ASSERT_EQ(report->metrics.size(), 9u);
  std::map<std::string, Verdict> verdicts;
  for (const auto& m : report->metrics) verdicts[m.metric] = m.verdict;
  EXPECT_EQ(verdicts["throughput_rps{class=high}"], Verdict::kWorse);
  EXPECT_EQ(verdicts["latency_p50_us{class=high}"], Verdict::kBetter);
  EXPECT_TRUE(report->any_worse());
  EXPECT_THAT(FormatCompareText(*report), HasSubstr("overall: WORSE"));
}

TEST_F(CompareTest, SelectorsMatchTagsAndHostFacts) {
  for (int i = 0; i < 4; ++i) AddRun("off", i + 1, 1000, 100, "6.1.0");
  for (int i = 0; i < 4; ++i) AddRun("on", i + 1, 1000, 100, "6.5.0");
  // The sides also differ in factor mode: naming it keeps the runs in one cell.
  auto by_kernel = Compare(*store_, {"host.kernel_release=6.1.0,mode=off",
                                     "kernel_release=6.5.0,mode=on",
                                     "",
                                     {"throughput_rps"}});
  ASSERT_TRUE(by_kernel.ok()) << by_kernel.status();
  EXPECT_EQ(by_kernel->metrics.size(), 1u);
  EXPECT_EQ(by_kernel->metrics[0].verdict, Verdict::kSame);
  EXPECT_FALSE(by_kernel->any_worse());
  auto by_tag = Compare(*store_, {"tag.build=old", "tag.build=new", "", {}});
  ASSERT_TRUE(by_tag.ok()) << by_tag.status();
  EXPECT_EQ(by_tag->baseline_runs, 4u);
}

TEST_F(CompareTest, HostDifferencesBeyondTheSelectorsAreWarnedAbout) {
  for (int i = 0; i < 3; ++i) AddRun("off", i + 1, 1000, 100, "6.1.0");
  for (int i = 0; i < 3; ++i) AddRun("on", i + 1, 1000, 100, "6.5.0");
  auto report = Compare(*store_, {"mode=off", "mode=on", "", {}});
  ASSERT_TRUE(report.ok());
  std::string warnings = absl::StrJoin(report->warnings, "\n");
  EXPECT_THAT(warnings, HasSubstr("only the baseline has host local kernel_release=6.1.0"));
  EXPECT_THAT(warnings, HasSubstr("only the candidate has host local kernel_release=6.5.0"));
}

TEST_F(CompareTest, CellsOnOneSideOnlyAreUnknownAndSayWhy) {
  for (int i = 0; i < 3; ++i) AddRun("off", i + 1, 1000, 100, "6.1.0", "x");
  for (int i = 0; i < 3; ++i) AddRun("on", i + 1, 1000, 100, "6.1.0", "y");
  auto report = Compare(*store_, {"mode=off", "mode=on", "", {"throughput_rps"}});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->cells.size(), 2u);
  EXPECT_EQ(report->cells[0].label, "other=x");
  EXPECT_EQ(report->cells[0].baseline_runs, 3u);
  EXPECT_EQ(report->cells[0].candidate_runs, 0u);
  ASSERT_EQ(report->metrics.size(), 1u);
  const MetricReport& m = report->metrics[0];
  ASSERT_EQ(m.cells.size(), 2u);
  EXPECT_EQ(m.cells[0].verdict, Verdict::kUnknown);
  EXPECT_EQ(m.cells[0].reason, "only the baseline has runs with these factor levels");
  EXPECT_EQ(m.cells[1].reason, "only the candidate has runs with these factor levels");
  EXPECT_EQ(report->overall(), Verdict::kUnknown);
  EXPECT_THAT(absl::StrJoin(report->warnings, "\n"), HasSubstr("no cell has runs on both sides"));
}

TEST_F(CompareTest, EachCellIsComparedWithItsOwnRuns) {
  // Pooled, "other" would hide the regression: x is fast and y slow on both sides.
  for (int i = 0; i < 6; ++i) {
    AddRun("off", i + 1, 1000 + i, 100, "6.1.0", "x");
    AddRun("off", i + 1, 500 + i, 100, "6.1.0", "y");
    AddRun("on", i + 1, 1000 + i, 100, "6.1.0", "x");
    AddRun("on", i + 1, 400 + i, 100, "6.1.0", "y");
  }
  auto report = Compare(*store_, {"mode=off", "mode=on", "", {"throughput_rps"}});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->metrics.size(), 1u);
  const MetricReport& m = report->metrics[0];
  ASSERT_EQ(m.cell_labels, (std::vector<std::string>{"other=x", "other=y"}));
  EXPECT_EQ(m.cells[0].verdict, Verdict::kSame);
  EXPECT_EQ(m.cells[1].verdict, Verdict::kWorse);
  EXPECT_EQ(m.cells[1].family_size, 2u);
  EXPECT_EQ(m.verdict, Verdict::kWorse);
  EXPECT_TRUE(report->any_worse());
}

TEST(SelectorTest, CampaignTermMatchesTheRunsCampaign) {
  RunRecord r;
  r.run.set_campaign("6.8-rc1");
  EXPECT_TRUE(Matches(r, *ParseSelector("campaign=6.8-rc1")));
  EXPECT_FALSE(Matches(r, *ParseSelector("campaign=6.7")));
}

TEST_F(CompareTest, NoMatchingRunsIsAnError) {
  AddRun("off", 1, 1000, 100);
  auto report = Compare(*store_, {"mode=off", "mode=nope", "", {}});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CompareTest, JunitMarksWorseAsFailureAndUnknownAsSkipped) {
  for (int i = 0; i < 5; ++i) AddRun("off", i + 1, 1000 + i, 100 * (i + 1));
  for (int i = 0; i < 5; ++i) AddRun("on", i + 1, 800 + i, 100 * (5 - i));
  CompareOptions o{"mode=off", "mode=on", "", {"throughput_rps", "latency_p50_us"}};
  auto report = Compare(*store_, o);
  ASSERT_TRUE(report.ok());
  std::string xml = FormatJunit(*report, o);
  EXPECT_THAT(xml, HasSubstr("failures=\"1\""));
  EXPECT_THAT(xml, HasSubstr("<failure message=\"WORSE\">"));
  EXPECT_THAT(xml, HasSubstr("tests=\"2\""));
}

TEST(CliArgsTest, ParsesValueAndBoolFlagsInBothForms) {
  auto a = ParseArgs({"spec.yaml", "--db", "x.db", "--tag=a=b", "--tag", "c=d", "--json"},
                     {"--db", "--tag"}, {"--json"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->positional, std::vector<std::string>{"spec.yaml"});
  EXPECT_EQ(a->Get("--db"), "x.db");
  EXPECT_EQ(a->flags.at("--tag"), (std::vector<std::string>{"a=b", "c=d"}));
  EXPECT_TRUE(a->Has("--json"));
}

TEST(CliArgsTest, UnknownFlagIsNamed) {
  auto a = ParseArgs({"--colour"}, {"--db"}, {});
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("unknown flag --colour"));
}

TEST(CliArgsTest, MissingValueIsNamed) {
  auto a = ParseArgs({"--db"}, {"--db"}, {});
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("--db needs a value"));
}

}  // namespace
}  // namespace rcbench::controller

namespace rcbench::controller {
namespace {

TEST(AnalysisTest, ServerPidIsDroppedFromContainerPaths) {
  EXPECT_EQ(StableContainerPath("server-1234/class-low"), "server/class-low");
  EXPECT_EQ(StableContainerPath("server-x1/a"), "server-x1/a");
  EXPECT_EQ(StableContainerPath(""), "(root)");
}

}  // namespace
}  // namespace rcbench::controller
