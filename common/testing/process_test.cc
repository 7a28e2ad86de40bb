#include "common/testing/process.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rcbench::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(ProcessTest, ShellPrintsToBothStreamsAndExitsWithItsCode) {
  auto p = Process::Start({"/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3"});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> code = (*p)->Wait(milliseconds(5000));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
  EXPECT_EQ((*p)->Stdout(), "to-out\n");
  EXPECT_EQ((*p)->Stderr(), "to-err\n");
}

TEST(ProcessTest, EnvironmentAndWorkingDirectoryReachTheChild) {
  ProcessOptions o;
  o.env = {"RCBENCH_KIT_PROBE=seen"};
  o.cwd = "/";
  auto r = RunProcess({"sh", "-c", "echo \"$RCBENCH_KIT_PROBE $(pwd)\""}, o, milliseconds(5000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "seen /\n");
}

TEST(ProcessTest, MergedOutputKeepsTheOrderOfWrites) {
  RunResult r = RunShell("echo one; echo two >&2; echo three");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "one\ntwo\nthree\n");
}

TEST(ProcessTest, AMissingBinaryIsNotFoundAndNamed) {
  auto p = Process::Start({"/nonexistent/rcbench-nothing"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(p.status().message(), HasSubstr("/nonexistent/rcbench-nothing"));
}

TEST(ProcessTest, ReadyFileIsParsedIntoKeysAndValues) {
  const std::string ready =
      (std::filesystem::temp_directory_path() / ("rcbench-kit-ready-" + std::to_string(getpid())))
          .string();
  auto p = Process::Start(
      {"/bin/sh", "-c", "printf 'grpc=127.0.0.1:1\\nmetrics=x\\n' > \"$0\"; exec sleep 30", ready});
  ASSERT_TRUE(p.ok()) << p.status();
  auto kv = (*p)->WaitForReadyFile(ready, milliseconds(5000));
  std::filesystem::remove(ready);
  ASSERT_TRUE(kv.ok()) << kv.status();
  EXPECT_EQ((*kv)["grpc"], "127.0.0.1:1");
  EXPECT_EQ((*kv)["metrics"], "x");
}

TEST(ProcessTest, ReadyFileWaitTimesOutWithAClearMessage) {
  auto p = Process::Start({"/bin/sh", "-c", "echo starting; exec sleep 30"});
  ASSERT_TRUE(p.ok()) << p.status();
  const auto t0 = std::chrono::steady_clock::now();
  auto kv = (*p)->WaitForReadyFile((*p)->dir() / "never", milliseconds(200));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ASSERT_FALSE(kv.ok());
  EXPECT_EQ(kv.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(kv.status().message(), HasSubstr("timed out after 200 ms waiting for ready file"));
  EXPECT_THAT(kv.status().message(), HasSubstr("never of /bin/sh"));
  EXPECT_THAT(kv.status().message(), HasSubstr("starting"));  // what it printed
}

TEST(ProcessTest, ReadyFileWaitFailsEarlyWhenTheProcessExits) {
  auto p = Process::Start({"/bin/sh", "-c", "echo cannot-bind >&2; exit 2"});
  ASSERT_TRUE(p.ok()) << p.status();
  auto kv = (*p)->WaitForReadyFile((*p)->dir() / "ready", std::chrono::seconds(30));
  ASSERT_FALSE(kv.ok());
  EXPECT_EQ(kv.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(kv.status().message(), HasSubstr("exited with code 2"));
  EXPECT_THAT(kv.status().message(), HasSubstr("cannot-bind"));
}

TEST(ProcessTest, StopDeliversSigtermAndReturnsTheExitCode) {
  auto p = Process::Start(
      {"/bin/sh", "-c", "trap 'exit 7' TERM; echo up; while :; do sleep 0.01; done"});
  ASSERT_TRUE(p.ok()) << p.status();
  // The trap is set before `up` is printed.
  ASSERT_TRUE(WaitFor([&] { return (*p)->Stdout() == "up\n"; }, milliseconds(5000), "up").ok());
  absl::StatusOr<int> code = (*p)->Stop(milliseconds(5000));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
}

TEST(ProcessTest, WaitTimesOutOnAProcessThatKeepsRunning) {
  auto p = Process::Start({"sleep", "30"});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> code = (*p)->Wait(milliseconds(50));
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(code.status().message(), HasSubstr("sleep (pid "));
  EXPECT_TRUE((*p)->Running());
}

TEST(ProcessTest, DestroyingAProcessKillsAndReapsIt) {
  pid_t pid;
  {
    auto p = Process::Start({"sleep", "30"});
    ASSERT_TRUE(p.ok()) << p.status();
    pid = (*p)->pid();
    ASSERT_EQ(kill(pid, 0), 0);
  }
  EXPECT_NE(kill(pid, 0), 0);  // reaped: no zombie left either
  EXPECT_EQ(errno, ESRCH);
}

TEST(ProcessTest, AnOwnProcessGroupIsKilledWhole) {
  ProcessOptions o;
  o.own_process_group = true;
  pid_t grandchild = -1;
  {
    auto p = Process::Start({"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, o);
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE(
        WaitFor([&] { return !(*p)->Stdout().empty(); }, milliseconds(5000), "the pid").ok());
    grandchild = std::stoi((*p)->Stdout());
  }
  // The grandchild is not ours to reap: dead is gone or a zombie awaiting its new parent.
  EXPECT_TRUE(WaitFor(
                  [&] {
                    const std::string stat =
                        ReadFileOrEmpty("/proc/" + std::to_string(grandchild) + "/stat");
                    const size_t paren = stat.rfind(')');
                    return paren == std::string::npos || stat.substr(paren + 2, 1) == "Z";
                  },
                  milliseconds(5000), "the grandchild to die")
                  .ok());
}

TEST(WaitForTest, TimesOutNamingWhatItWaitedFor) {
  absl::Status s = WaitFor([] { return false; }, milliseconds(30), "the moon");
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "timed out after 30 ms waiting for the moon");
}

TEST(WaitForTest, ReturnsAsSoonAsTheConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, std::chrono::seconds(30), "three").ok());
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace rcbench::testing
