#include "controller/load_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"
#include "common/testing/wait_for.h"
#include "controller/testing/fake_testbed.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

using YieldingFakeClock = rcbench::testing::YieldingFakeClock;

rcbench::v1::Workload OneClass() {
  rcbench::v1::Workload w;
  w.add_http_classes()->set_name("high");
  return w;
}

class LoadSessionTest : public ::testing::Test {
 protected:
  YieldingFakeClock clock_{std::chrono::milliseconds(1)};
  testing::FakeLoadGenClient client_{"cli", clock_};
  FaultMonitor faults_;
  LeaseOptions lease_{std::chrono::seconds(2), std::chrono::milliseconds(500)};
};

TEST_F(LoadSessionTest, TheLeaseIsRenewedUntilStopAndARefusalAfterStopIsNoLoss) {
  LoadSession session("cli", client_, clock_, lease_, faults_, nullptr);
  ASSERT_TRUE(session.Configure(OneClass()).ok());
  ASSERT_TRUE(session.Start().ok());
  EXPECT_EQ(client_.last_lease(), std::chrono::seconds(2));
  // The session renews on its own thread, sleeping on the yielding fake clock.
  ASSERT_TRUE(rcbench::testing::WaitFor([&] { return client_.renewals() >= 5; },
                                        std::chrono::seconds(10), "five lease renewals")
                  .ok());
  // The generator ends the run at Stop; renewals in flight are refused from then on.
  ASSERT_TRUE(session.Stop().ok());
  for (int i = 0; i < 20; ++i) clock_.SleepFor(std::chrono::milliseconds(500));
  session.Close(/*abort=*/false);
  EXPECT_FALSE(faults_.failed()) << faults_.failure()->reason;
  ASSERT_EQ(session.totals().size(), 1u);
  EXPECT_EQ(session.totals()[0].class_name(), "high");
}

TEST_F(LoadSessionTest, AGeneratorThatStopsAnsweringIsReportedLostByName) {
  LoadSession session("cli", client_, clock_, lease_, faults_, nullptr);
  ASSERT_TRUE(session.Configure(OneClass()).ok());
  ASSERT_TRUE(session.Start().ok());
  client_.set_healthy(false);
  ASSERT_TRUE(rcbench::testing::WaitFor([&] { return faults_.failed(); }, std::chrono::seconds(10),
                                        "the generator reported lost")
                  .ok());
  EXPECT_THAT(faults_.failure()->reason, HasSubstr("load generator cli lost"));
  EXPECT_TRUE(faults_.failure()->infrastructure);
  EXPECT_TRUE(faults_.HostLost("cli"));
  // Closing does not wait on the lost generator.
  session.Close(/*abort=*/true);
}

TEST_F(LoadSessionTest, AGeneratorStillBusyWithAKilledControllersRunIsWaitedFor) {
  client_.busy_starts_ = 3;
  LoadSession session("cli", client_, clock_, lease_, faults_, nullptr);
  ASSERT_TRUE(session.Configure(OneClass()).ok());
  const int64_t before = clock_.MonotonicNanos();
  ASSERT_TRUE(session.Start().ok());
  EXPECT_GE(clock_.MonotonicNanos() - before, 750'000'000);
  session.Close(/*abort=*/true);
}

TEST_F(LoadSessionTest, AGeneratorBusyForLongerThanTheWaitIsAnError) {
  client_.busy_starts_ = 1000;
  LoadSession session("cli", client_, clock_, lease_, faults_, nullptr);
  ASSERT_TRUE(session.Configure(OneClass()).ok());
  absl::Status s = session.Start(std::chrono::seconds(3));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("still running"));
}

}  // namespace
}  // namespace rcbench::controller
