#include "rc/event_scheduler.h"

#include <string>

#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"

namespace rcbench::rc {
namespace {

using ::rcbench::testing::FakeClock;

class RcEventSchedulerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  EventScheduler<int> scheduler_{{}, &clock_};
  std::shared_ptr<LogicalContainer> high_ =
      LogicalContainer::Create("high", nullptr, {.priority = 1});
  std::shared_ptr<LogicalContainer> low_ =
      LogicalContainer::Create("low", nullptr, {.priority = 0});
};

TEST_F(RcEventSchedulerTest, EmptySchedulerYieldsNothing) {
  EXPECT_FALSE(scheduler_.Pop().has_value());
}

TEST_F(RcEventSchedulerTest, HigherPriorityEventsComeFirst) {
  scheduler_.Push(low_, 1);
  scheduler_.Push(high_, 2);
  EXPECT_EQ(scheduler_.Pop()->event, 2);
  EXPECT_EQ(scheduler_.Pop()->event, 1);
  EXPECT_TRUE(scheduler_.empty());
}

TEST_F(RcEventSchedulerTest, EventsOfOneContainerAreFifo) {
  for (int i = 0; i < 5; ++i) scheduler_.Push(low_, i);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(scheduler_.Pop()->event, i);
}

TEST_F(RcEventSchedulerTest, EqualPrioritiesShareByRecentUsagePerWeight) {
  auto a = LogicalContainer::Create("a", nullptr, {.weight = 300});
  auto b = LogicalContainer::Create("b", nullptr, {.weight = 100});
  for (int i = 0; i < 400; ++i) {
    scheduler_.Push(a, 0);
    scheduler_.Push(b, 1);
  }
  int count_a = 0;
  for (int i = 0; i < 400; ++i) {
    auto r = scheduler_.Pop();
    if (r->event == 0) ++count_a;
    clock_.Advance(std::chrono::microseconds(100));  // each event costs 100 µs
  }
  EXPECT_NEAR(count_a, 300, 12);
}

TEST_F(RcEventSchedulerTest, MinShareLetsLowPriorityProgressUnderAFlood) {
  low_->SetAttributes({.priority = 0, .min_share = 0.2});
  for (int i = 0; i < 1000; ++i) {
    scheduler_.Push(high_, 1);
    scheduler_.Push(low_, 0);
  }
  int low = 0;
  for (int i = 0; i < 1000; ++i) {
    if (scheduler_.Pop()->event == 0) ++low;
    clock_.Advance(std::chrono::microseconds(100));
  }
  EXPECT_NEAR(low, 200, 20);
}

TEST_F(RcEventSchedulerTest, WithoutMinShareLowPriorityWaits) {
  for (int i = 0; i < 100; ++i) {
    scheduler_.Push(high_, 1);
    scheduler_.Push(low_, 0);
  }
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(scheduler_.Pop()->event, 1);
    clock_.Advance(std::chrono::microseconds(100));
  }
}

TEST_F(RcEventSchedulerTest, PopChargesTheTimeUntilTheNextPop) {
  scheduler_.Push(low_, 1);
  scheduler_.Push(low_, 2);
  scheduler_.Pop();
  clock_.Advance(std::chrono::microseconds(250));
  scheduler_.Pop();
  EXPECT_NEAR(scheduler_.RecentUsageNs(low_.get()), 250'000, 1);
}

TEST_F(RcEventSchedulerTest, IdleTimeIsNotCharged) {
  scheduler_.Push(low_, 1);
  scheduler_.Pop();
  clock_.Advance(std::chrono::microseconds(10));
  scheduler_.MarkIdle();
  clock_.Advance(std::chrono::seconds(1));
  scheduler_.Pop();
  // 10 µs, decayed over 1 s with a 100 ms half-life.
  EXPECT_NEAR(scheduler_.RecentUsageNs(low_.get()), 10'000.0 / 1024, 1);
}

TEST_F(RcEventSchedulerTest, RecentUsageHalvesEveryHalfLife) {
  scheduler_.Charge(low_, 1'000'000);
  clock_.Advance(std::chrono::milliseconds(100));
  EXPECT_NEAR(scheduler_.RecentUsageNs(low_.get()), 500'000, 1);
}

TEST_F(RcEventSchedulerTest, PruneForgetsIdleContainers) {
  auto conn = LogicalContainer::Create("conn");
  std::weak_ptr<LogicalContainer> weak = conn;
  scheduler_.Push(conn, 1);
  conn.reset();
  scheduler_.Pop();
  scheduler_.MarkIdle();
  clock_.Advance(std::chrono::seconds(10));
  scheduler_.Prune();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace rcbench::rc
