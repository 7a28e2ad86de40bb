#include "common/clock.h"

#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"

namespace rcbench {
namespace {

TEST(RealClockTest, MonotonicNeverGoesBackwards) {
  RealClock* c = RealClock::Get();
  int64_t a = c->MonotonicNanos();
  int64_t b = c->MonotonicNanos();
  EXPECT_LE(a, b);
  EXPECT_GT(a, 0);
}

TEST(FakeClockTest, SleepAdvancesBothClocksWithoutBlocking) {
  testing::FakeClock c;
  int64_t m0 = c.MonotonicNanos();
  auto w0 = c.Now();
  c.SleepFor(std::chrono::hours(1));
  EXPECT_EQ(c.MonotonicNanos() - m0, 3'600'000'000'000);
  EXPECT_EQ(c.Now() - w0, std::chrono::hours(1));
}

}  // namespace
}  // namespace rcbench
