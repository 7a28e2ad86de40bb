#include "server/event_queue.h"

#include <gtest/gtest.h>

#include <deque>

#include "common/testing/fake_clock.h"

namespace rcbench::server {
namespace {

// A synthetic backlog: `count` events of `container`, owned by the test.
std::deque<EventNode> Backlog(int container, int count) {
  std::deque<EventNode> v(count);
  for (auto& n : v) n.container = container;
  return v;
}

constexpr int kLow = 0, kHigh = 1;

std::vector<std::shared_ptr<rc::LogicalContainer>> Classes(rc::LogicalAttributes low,
                                                           rc::LogicalAttributes high) {
  return {rc::LogicalContainer::Create("low", nullptr, low),
          rc::LogicalContainer::Create("high", nullptr, high)};
}

TEST(EventQueueTest, FifoKeepsArrivalOrder) {
  EventQueue q(EventQueue::Policy::kFifo, Classes({}, {.priority = 5}));
  auto low = Backlog(kLow, 3), high = Backlog(kHigh, 1);
  q.Push(&low[0]);
  q.Push(&high[0]);
  q.Push(&low[1]);
  EXPECT_EQ(q.Pop(), &low[0]);
  EXPECT_EQ(q.Pop(), &high[0]);
  EXPECT_EQ(q.Pop(), &low[1]);
  EXPECT_EQ(q.Pop(), nullptr);
}

TEST(EventQueueTest, PriorityServesHighBacklogBeforeLow) {
  EventQueue q(EventQueue::Policy::kPriority, Classes({}, {.priority = 1}));
  auto low = Backlog(kLow, 100), high = Backlog(kHigh, 10);
  for (auto& n : low) q.Push(&n);
  for (auto& n : high) q.Push(&n);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(q.Pop()->container, kHigh) << i;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(q.Pop()->container, kLow) << i;
  EXPECT_TRUE(q.empty());
}

TEST(EventQueueTest, PriorityIsFifoAmongEqualPriorities) {
  EventQueue q(EventQueue::Policy::kPriority, Classes({}, {}));
  auto low = Backlog(kLow, 2), high = Backlog(kHigh, 1);
  q.Push(&low[0]);
  q.Push(&high[0]);
  q.Push(&low[1]);
  EXPECT_EQ(q.Pop(), &low[0]);
  EXPECT_EQ(q.Pop(), &high[0]);
  EXPECT_EQ(q.Pop(), &low[1]);
}

// Each handled event costs 1 ms of (fake) time; under a backlog of both, equal-priority
// containers get dispatch slots in proportion to their weights.
TEST(EventQueueTest, WeightedSharesSlotsByWeightUnderBacklog) {
  testing::FakeClock clock;
  EventQueue q(EventQueue::Policy::kWeighted, Classes({.weight = 100}, {.weight = 300}), &clock);
  auto low = Backlog(kLow, 400), high = Backlog(kHigh, 400);
  for (size_t i = 0; i < 400; ++i) {
    q.Push(&low[i]);
    q.Push(&high[i]);
  }
  int served[2] = {0, 0};
  for (int i = 0; i < 400; ++i) {
    ++served[q.Pop()->container];
    clock.Advance(std::chrono::milliseconds(1));
  }
  EXPECT_NEAR(served[kHigh], 300, 10);
  EXPECT_NEAR(served[kLow], 100, 10);
}

// A lightly loaded class goes first although the other has a deep backlog: its recent usage
// is far below its share.
TEST(EventQueueTest, WeightedServesLightlyLoadedClassFirst) {
  testing::FakeClock clock;
  EventQueue q(EventQueue::Policy::kWeighted, Classes({}, {}), &clock);
  auto low = Backlog(kLow, 50), high = Backlog(kHigh, 1);
  for (auto& n : low) q.Push(&n);
  for (int i = 0; i < 20; ++i) {
    q.Pop();
    clock.Advance(std::chrono::milliseconds(1));
  }
  q.Push(&high[0]);
  EXPECT_EQ(q.Pop(), &high[0]);
}

TEST(EventQueueTest, WeightedHonoursStrictPriorityOverUsage) {
  testing::FakeClock clock;
  EventQueue q(EventQueue::Policy::kWeighted,
               Classes({.priority = 0, .weight = 10000}, {.priority = 1, .weight = 1}), &clock);
  auto low = Backlog(kLow, 5), high = Backlog(kHigh, 5);
  for (auto& n : low) q.Push(&n);
  for (auto& n : high) q.Push(&n);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(q.Pop()->container, kHigh);
    clock.Advance(std::chrono::milliseconds(10));
  }
}

// Under a flood of high-priority events, a low class with a guaranteed minimum share still
// gets about that share of the slots.
TEST(EventQueueTest, WeightedGivesLowPriorityItsMinimumShare) {
  testing::FakeClock clock;
  EventQueue q(EventQueue::Policy::kWeighted,
               Classes({.priority = 0, .min_share = 0.2}, {.priority = 1}), &clock);
  auto low = Backlog(kLow, 500), high = Backlog(kHigh, 500);
  for (size_t i = 0; i < 500; ++i) {
    q.Push(&low[i]);
    q.Push(&high[i]);
  }
  int low_served = 0;
  for (int i = 0; i < 500; ++i) {
    low_served += q.Pop()->container == kLow;
    clock.Advance(std::chrono::milliseconds(1));
  }
  EXPECT_NEAR(low_served, 100, 15);
}

}  // namespace
}  // namespace rcbench::server
