#include "controller/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/matrix.h"
#include "controller/spec.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSpec[] = R"(name: prim
benchmark: {binary: rc_primitives}
repetitions: 2
)";

class PrimitiveCostsReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rcbench-report-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = *SqliteResultStore::Open((dir_ / "r.db").string());
    auto spec = ParseSpec(kSpec, "prim.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status();
    auto runs = ExpandMatrix(*spec, 1);
    ASSERT_EQ(runs.size(), 2u);
    ASSERT_TRUE(store_->AddExperiment({"prim", kSpec, 1, "now"}, runs).ok());
    // BM_Create: 300 and 500 µs wall; BM_Local is not in the paper's table.
    for (size_t i = 0; i < runs.size(); ++i) {
      ASSERT_TRUE(store_->MarkRunning(runs[i].run_id, 1, {}).ok());
      RunOutcome o;
      o.run_id = runs[i].run_id;
      for (auto [name, ns] :
           {std::pair{"BM_Create", 300000.0 + 200000.0 * i}, std::pair{"BM_Local", 50.0}}) {
        auto& b = o.benchmarks.emplace_back();
        b.set_name(name);
        b.set_run_name(name);
        b.set_iterations(100);
        b.set_real_time_ns(ns);
        b.set_cpu_time_ns(ns / 4);
      }
      ASSERT_TRUE(store_->CompleteRun(o).ok());
    }
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string WriteMarkdown() {
    auto files = WriteReport(*store_, {"prim", "md", (dir_ / "out").string(), false});
    EXPECT_TRUE(files.ok()) << files.status();
    std::ifstream in(files->report);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteResultStore> store_;
};

TEST_F(PrimitiveCostsReportTest, MedianTimePerOpStandsBesideThePapersFigure) {
  std::string md = WriteMarkdown();
  EXPECT_THAT(md, HasSubstr("## Primitive costs"));
  // Median of 300 and 500 µs; CPU a quarter; paper 2.36 µs; 400 / 2.36 = 169x.
  EXPECT_THAT(md, HasSubstr("| BM_Create | create | 2 | 400 | 141 | 100 | 2.36 | 169x |"));
  EXPECT_THAT(md, HasSubstr("| BM_Local | - | 2 | 0.050 | 0.000 | 0.013 | - | - |"));
  EXPECT_THAT(md, Not(HasSubstr("## Load classes")));
}

TEST_F(PrimitiveCostsReportTest, PaperOperationsComeFirst) {
  std::string md = WriteMarkdown();
  EXPECT_LT(md.find("| BM_Create |"), md.find("| BM_Local |"));
}

TEST_F(PrimitiveCostsReportTest, TerminalTableIsThePrimitiveCosts) {
  auto table = ResultsTable(*store_, "prim");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(*table, HasSubstr("paper_us"));
  EXPECT_THAT(*table, HasSubstr("169x"));
}

TEST(PrimitiveCostsReportEmptyTest, TerminalTableOfABenchmarkExperimentWithoutResultsSaysSo) {
  auto path = std::filesystem::temp_directory_path() /
              ("rcbench-report-test-empty-" + std::to_string(getpid()) + ".db");
  {
    auto store = *SqliteResultStore::Open(path.string());
    ASSERT_TRUE(store->AddExperiment({"prim", kSpec, 1, "now"}, {}).ok());
    auto table = ResultsTable(*store, "prim");
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_EQ(*table, "(no completed runs)\n");
  }
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + s);
}

TEST_F(PrimitiveCostsReportTest, JsonCarriesTheRawEntriesAndMetrics) {
  auto files = WriteReport(*store_, {"prim", "json", (dir_ / "out").string(), false});
  ASSERT_TRUE(files.ok()) << files.status();
  std::ifstream in(files->report);
  std::stringstream buf;
  buf << in.rdbuf();
  EXPECT_THAT(buf.str(), HasSubstr("\"time_per_op_ns{benchmark=BM_Create}\": 300000.0"));
  EXPECT_THAT(buf.str(), HasSubstr("\"benchmarks\": ["));
}

constexpr char kServerSpec[] = R"(name: srv
server: {args: []}
load:
  classes:
    - {name: a, mode: closed_loop, connections: 1}
)";

// A container idle in every run (the server's CGI container without CGI requests, a class's
// worker that only ran its timers) is named under the Containers table, not filled with zeros.
TEST(ContainerReportTest, IdleContainersAreNamedNotTabulated) {
  auto dir = std::filesystem::temp_directory_path() /
             ("rcbench-report-test-" + std::to_string(getpid()) + "-idle");
  std::filesystem::remove_all(dir);
  {
    auto store = *SqliteResultStore::Open((dir / "r.db").string());
    auto spec = ParseSpec(kServerSpec, "srv.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status();
    auto runs = ExpandMatrix(*spec, 1);
    ASSERT_EQ(runs.size(), 1u);
    ASSERT_TRUE(store->AddExperiment({"srv", kServerSpec, 1, "now"}, runs).ok());
    ASSERT_TRUE(store->MarkRunning(runs[0].run_id, 1, {}).ok());
    RunOutcome o;
    o.run_id = runs[0].run_id;
    auto& cls = o.classes.emplace_back();
    cls.set_class_name("a");
    cls.set_throughput_rps(100);
    for (auto [path, cores] : {std::pair{"server-41", 0.5}, std::pair{"server-41/cgi", 0.0},
                               std::pair{"server-41/class-default", 0.0001}}) {
      auto& c = o.containers.emplace_back();
      c.mutable_id()->set_host("local");
      c.mutable_id()->set_path(path);
      c.set_cpu_cores(cores);
    }
    ASSERT_TRUE(store->CompleteRun(o).ok());
    auto files = WriteReport(*store, {"srv", "md", (dir / "out").string(), false});
    ASSERT_TRUE(files.ok()) << files.status();
    std::ifstream in(files->report);
    std::stringstream buf;
    buf << in.rdbuf();
    EXPECT_THAT(buf.str(), HasSubstr("| server | 1 | 0.500 |"));
    EXPECT_THAT(buf.str(), Not(HasSubstr("| server/cgi |")));
    EXPECT_THAT(buf.str(), Not(HasSubstr("| server/class-default |")));
    EXPECT_THAT(buf.str(), HasSubstr("Not shown, 0.000 cores in every run: server/cgi, "
                                     "server/class-default."));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rcbench::controller
