#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "controller/benchmark_executor.h"
#include "controller/runner.h"
#include "controller/testing/runner_fixture.h"

// One attempt's phases: setup, load, the benchmark program, teardown (runner_phases.cc).

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;
using testing::RunnerTest;

TEST_F(RunnerTest, FactorLevelsAreTemplatedIntoServerArgsAndContainers) {
  spec_.randomize = false;
  ASSERT_TRUE(RunAll().ok());
  ASSERT_EQ(testbed_.server_args_.size(), 4u);
  EXPECT_EQ(testbed_.server_args_[0], (std::vector<std::string>{"--mode", "a"}));
  EXPECT_EQ(testbed_.server_args_[3], (std::vector<std::string>{"--mode", "b"}));
  EXPECT_EQ(testbed_.agent_.creates(), 4);
  auto workloads = testbed_.loadgen_.workloads();
  ASSERT_EQ(workloads.size(), 4u);
  EXPECT_EQ(workloads[0].http_classes(0).target(), "http://127.0.0.1:8080");
  EXPECT_EQ(workloads[0].http_classes(1).sclient().clients(), 3u);
}

TEST_F(RunnerTest, TheLeaseSettingsReachTheGeneratorAndItIsRenewed) {
  RunnerOptions o;
  o.lease.length = std::chrono::seconds(2);
  o.lease.renew_every = std::chrono::milliseconds(500);
  ASSERT_TRUE(RunAll(o).ok());
  EXPECT_EQ(testbed_.loadgen_.last_lease(), std::chrono::seconds(2));
  EXPECT_GT(testbed_.loadgen_.renewals(), 0);
}

TEST_F(RunnerTest, TeardownRunsOnEveryPath) {
  testbed_.loadgen_.fail_start_ = {1, 2, 3, 4};
  auto summary = RunAll();
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->failed, 4);
  EXPECT_TRUE(testbed_.agent_.containers().empty());
  EXPECT_EQ(testbed_.agent_.restores(), 4);
  EXPECT_EQ(testbed_.server_stops_, 4);
  EXPECT_FALSE(testbed_.server_up_);
}

// Stands in for the benchmark program: records each launch and answers with `output`.
class FakeBenchmarkExecutor : public BenchmarkExecutor {
 public:
  absl::StatusOr<std::string> Run(const BenchmarkLaunch& launch,
                                  const std::function<bool()>&) override {
    launches.push_back(launch);
    return output;
  }
  std::vector<BenchmarkLaunch> launches;
  absl::StatusOr<std::string> output = std::string(
      R"({"benchmarks": [{"name": "BM_Create", "run_name": "BM_Create", "run_type": "iteration",
      "iterations": 100, "real_time": 350.5, "cpu_time": 120.25, "time_unit": "us"}]})");
};

constexpr char kBenchmarkSpec[] = R"(name: prim
benchmark:
  binary: rc_primitives
  args: ["--benchmark_min_time={{min_time}}"]
  timeout: 30s
factors:
  min_time: ["0.01", "0.1"]
seed: 3
)";

class BenchmarkRunnerTest : public RunnerTest {
 protected:
  void SetUp() override {
    RunnerTest::SetUp();
    auto spec = ParseSpec(kBenchmarkSpec, "prim.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status();
    spec_ = *spec;
    spec_.randomize = false;
  }
  absl::StatusOr<RunSummary> RunBenchmarks() {
    RunnerOptions options;
    options.benchmarks = &executor_;
    return RunAll(std::move(options));
  }
  FakeBenchmarkExecutor executor_;
};

TEST_F(BenchmarkRunnerTest, EveryRunStoresTheProgramsEntriesWithItsCompletion) {
  auto summary = RunBenchmarks();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->completed, 2);
  auto runs = *store_->ListRuns("prim");
  for (const auto& run : runs) {
    EXPECT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store_->GetResults(run.run_id(), false);
    ASSERT_EQ(results.benchmarks_size(), 1);
    EXPECT_EQ(results.benchmarks(0).name(), "BM_Create");
    EXPECT_DOUBLE_EQ(results.benchmarks(0).real_time_ns(), 350500);
    EXPECT_EQ(results.classes_size(), 0);
    EXPECT_EQ(results.hosts(0).kernel_release(), "6.1.0-fake");
  }
}

TEST_F(BenchmarkRunnerTest, FactorLevelsAreTemplatedIntoTheProgramsArgs) {
  ASSERT_TRUE(RunBenchmarks().ok());
  ASSERT_EQ(executor_.launches.size(), 2u);
  EXPECT_EQ(executor_.launches[0].args, (std::vector<std::string>{"--benchmark_min_time=0.01"}));
  EXPECT_EQ(executor_.launches[1].args, (std::vector<std::string>{"--benchmark_min_time=0.1"}));
  EXPECT_EQ(executor_.launches[0].timeout, std::chrono::seconds(30));
  EXPECT_TRUE(testbed_.server_args_.empty());
  EXPECT_TRUE(testbed_.loadgen_.workloads().empty());
}

TEST_F(BenchmarkRunnerTest, MalformedOutputFailsTheRunWithAClearError) {
  executor_.output = std::string("{\"benchmarks\": [{\"name\": \"BM_Create\"}");
  auto summary = RunBenchmarks();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->failed, 2);
  auto run = (*store_->ListRuns("prim"))[0];
  EXPECT_EQ(run.status(), rcbench::v1::RUN_STATUS_FAILED);
  EXPECT_THAT(run.error(), HasSubstr("rc_primitives: benchmark output is not valid JSON"));
  EXPECT_EQ(*store_->CountRows("benchmark_results", run.run_id()), 0);
}

TEST_F(BenchmarkRunnerTest, AProgramThatFailsFailsTheRunWithItsReason) {
  executor_.output = absl::UnavailableError("rc_primitives failed (exit 2)");
  ASSERT_TRUE(RunBenchmarks().ok());
  EXPECT_THAT((*store_->ListRuns("prim"))[0].error(), HasSubstr("rc_primitives failed (exit 2)"));
}

TEST_F(BenchmarkRunnerTest, WithoutAnExecutorTheRunFails) {
  auto summary = RunAll();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->failed, 2);
  EXPECT_THAT((*store_->ListRuns("prim"))[0].error(), HasSubstr("no benchmark executor"));
}

}  // namespace
}  // namespace rcbench::controller
