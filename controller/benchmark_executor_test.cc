#include "controller/benchmark_executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/testing/fake_clock.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

// A stand-in benchmark program: a shell script that behaves as its first argument says and
// writes its "JSON" to the --benchmark_out file, as a Google Benchmark program does.
constexpr char kScript[] = R"(#!/bin/sh
for a in "$@"; do
  case $a in --benchmark_out=*) out=${a#--benchmark_out=};; esac
done
case $1 in
  ok) echo '{"benchmarks": [], "args": "'"$*"'"}' > "$out";;
  fail) echo "cannot set up the cgroups" >&2; exit 3;;
  silent) exit 0;;
  hang) exec sleep 30;;
esac
)";

// Advances on each poll and yields a millisecond of real time, so the script gets to run while
// the executor's deadline is measured on the fake clock (20 ms per poll).
using YieldingFakeClock = rcbench::testing::YieldingFakeClock;

class BenchmarkExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rcbench-bench-exec-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    script_ = (dir_ / "fake_bench").string();
    std::ofstream(script_) << kScript;
    chmod(script_.c_str(), 0755);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // A generous timeout (60 s of fake time is 3000 polls, at least 3 s of real time) unless a
  // test is about the timeout.
  absl::StatusOr<std::string> Run(const std::string& mode, std::function<bool()> abort = {},
                                  std::chrono::seconds timeout = std::chrono::seconds(60)) {
    LocalBenchmarkExecutor executor(script_, (dir_ / "work").string(), clock_);
    return executor.Run({{mode}, timeout, "r1"}, abort);
  }

  std::filesystem::path dir_;
  std::string script_;
  YieldingFakeClock clock_{std::chrono::milliseconds(1)};
};

TEST_F(BenchmarkExecutorTest, OutputFileIsReturnedAndRemoved) {
  auto out = Run("ok");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("\"benchmarks\": []"));
  EXPECT_THAT(*out, HasSubstr("--benchmark_out_format=json"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "work" / "benchmark-r1.json"));
}

TEST_F(BenchmarkExecutorTest, NonZeroExitIsUnavailableWithTheLogTail) {
  auto out = Run("fail");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(out.status().message(), HasSubstr("failed (exit 3)"));
  EXPECT_THAT(out.status().message(), HasSubstr("cannot set up the cgroups"));
}

TEST_F(BenchmarkExecutorTest, MissingOutputFileIsUnavailable) {
  auto out = Run("silent");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(out.status().message(), HasSubstr("wrote no"));
}

TEST_F(BenchmarkExecutorTest, ProgramOutlivingTheTimeoutIsKilled) {
  auto out = Run("hang", {}, std::chrono::seconds(1));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(out.status().message(), HasSubstr("did not finish within 1 s"));
}

TEST_F(BenchmarkExecutorTest, AbortStopsTheProgram) {
  auto out = Run("hang", [] { return true; });
  EXPECT_EQ(out.status().code(), absl::StatusCode::kAborted);
}

TEST_F(BenchmarkExecutorTest, MissingProgramIsNotFound) {
  LocalBenchmarkExecutor executor((dir_ / "nope").string(), (dir_ / "work").string(), clock_);
  EXPECT_EQ(executor.Run({{}, std::chrono::seconds(1), "r1"}, {}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rcbench::controller
