// Resume after kill -9: the controller is SIGKILLed mid-matrix, its children die with it, and
// a second `rcbench run` finishes the matrix with every run stored exactly once.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/testing/wait_for.h"
#include "controller/store.h"
#include "tests/e2e_util.h"

namespace rcbench::e2e {
namespace {

int CompletedRuns(const std::string& db) {
  auto store = controller::SqliteResultStore::Open(db);
  if (!store.ok()) return 0;
  auto runs = (*store)->ListRuns("smoke");
  if (!runs.ok()) return 0;
  int n = 0;
  for (const auto& r : *runs) n += r.status() == rcbench::v1::RUN_STATUS_COMPLETED;
  return n;
}

pid_t PidFromReadyFile(const std::string& path) {
  for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
    int pid;
    if (absl::ConsumePrefix(&line, "pid=") && absl::SimpleAtoi(line, &pid)) return pid;
  }
  return 0;
}

TEST(ResumeE2eTest, KilledControllerResumesWithEveryRunStoredOnce) {
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  TempDir dir("e2e-resume");
  const std::string db = dir / "rcbench.db";
  auto controller =
      StartRcbench({"run", "experiments/smoke.yaml", "--db", db, "--work-dir", dir / "work"},
                   LoggedInSourceTree(dir / "first.log"));
  ASSERT_TRUE(controller.ok()) << controller.status();
  (void)rcbench::testing::WaitFor([&] { return CompletedRuns(db) >= 3; }, std::chrono::seconds(60),
                                  "three completed runs", std::chrono::milliseconds(100));
  ASSERT_GE(CompletedRuns(db), 3) << ReadFile(dir / "first.log");
  pid_t agent = PidFromReadyFile(dir / "work/agent.ready");
  pid_t loadgen = PidFromReadyFile(dir / "work/loadgen.ready");
  ASSERT_GT(agent, 0);
  ASSERT_GT(loadgen, 0);
  // SIGKILL to the controller alone: its children must die of their PR_SET_PDEATHSIG.
  (*controller)->Kill(SIGKILL);
  ASSERT_TRUE((*controller)->Wait().ok());
  (void)rcbench::testing::WaitFor(
      [&] { return !Alive(agent) && !Alive(loadgen); }, std::chrono::seconds(10),
      "the agent and the load generator to die", std::chrono::milliseconds(50));
  EXPECT_FALSE(Alive(agent));
  EXPECT_FALSE(Alive(loadgen));
  int before = CompletedRuns(db);
  ASSERT_LT(before, 8);

  Result second =
      RunRcbench({"run", "experiments/smoke.yaml", "--db", db, "--work-dir", dir / "work"},
                 dir / "second.log");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output,
              ::testing::HasSubstr(std::to_string(before) + " already done, of 8 runs"));
  auto store = *controller::SqliteResultStore::Open(db);
  auto runs = *store->ListRuns("smoke");
  ASSERT_EQ(runs.size(), 8u);
  for (const auto& r : runs) {
    EXPECT_EQ(r.status(), rcbench::v1::RUN_STATUS_COMPLETED) << r.run_id() << " " << r.error();
    EXPECT_EQ(*store->CountRows("class_results", r.run_id()), 2) << r.run_id();
    EXPECT_EQ(*store->CountRows("run_hosts", r.run_id()), 1) << r.run_id();
  }
}

}  // namespace
}  // namespace rcbench::e2e
