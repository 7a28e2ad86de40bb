#include "controller/faults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/testing/fake_clock.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

TEST(FaultMonitorTest, TheFirstLossIsTheFailureAndLaterOnesOnlyAddTheirHost) {
  FaultMonitor m;
  EXPECT_FALSE(m.failed());
  m.Report("cli", "load generator cli lost: stream");
  m.Report("srv", "agent srv lost: probe", true);
  ASSERT_TRUE(m.failed());
  EXPECT_EQ(m.failure()->reason, "load generator cli lost: stream");
  EXPECT_TRUE(m.HostLost("cli"));
  EXPECT_TRUE(m.HostLost("srv"));
  EXPECT_FALSE(m.HostLost("other"));
}

TEST(ProbeTargetsTest, AServerDownWhileItsAgentAnswersIsTheSystemUnderTestsFailure) {
  FaultMonitor m;
  ProbeTargets({{"srv", "server", [] { return absl::UnavailableError("exit code 3"); },
                 [] { return absl::OkStatus(); }}},
               m);
  ASSERT_TRUE(m.failed());
  EXPECT_FALSE(m.failure()->infrastructure);
  EXPECT_EQ(m.failure()->reason, "server failed: exit code 3");
  EXPECT_FALSE(m.HostLost("srv"));  // teardown still stops the server through its agent
}

TEST(ProbeTargetsTest, AServerDownWithItsAgentIsTheAgentsLoss) {
  FaultMonitor m;
  ProbeTargets({{"srv", "server", [] { return absl::UnavailableError("no answer"); },
                 [] { return absl::UnavailableError("connection refused"); }}},
               m);
  ASSERT_TRUE(m.failed());
  EXPECT_TRUE(m.failure()->infrastructure);
  EXPECT_EQ(m.failure()->reason, "agent srv lost: connection refused");
  EXPECT_TRUE(m.HostLost("srv"));
}

TEST(HostWatchTest, ALossIsReportedWithinAProbePeriodAndStopReturnsPromptly) {
  rcbench::testing::FakeClock clock;
  FaultMonitor m;
  std::atomic<bool> up{true};
  std::atomic<int> probes{0};
  HostWatch watch({{"cli",
                    "load generator cli",
                    [&] {
                      ++probes;
                      return up ? absl::OkStatus() : absl::UnavailableError("timed out");
                    },
                    {}}},
                  m, clock, std::chrono::milliseconds(500));
  while (probes < 3) std::this_thread::yield();
  EXPECT_FALSE(m.failed());
  up = false;
  while (!m.failed()) std::this_thread::yield();
  EXPECT_EQ(m.failure()->reason, "load generator cli lost: timed out");
  watch.Stop();
  const int after = probes;
  watch.Stop();  // idempotent
  EXPECT_EQ(probes, after);
}

}  // namespace
}  // namespace rcbench::controller
