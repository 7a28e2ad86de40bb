#include "server/event_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace rcbench::server {
namespace {

// A synthetic backlog: `count` events of `container`, owned by the test.
std::deque<EventNode> Backlog(int container, int count) {
  std::deque<EventNode> v(count);
  for (auto& n : v) n.container = container;
  return v;
}

constexpr int kLow = 0, kHigh = 1;

TEST(EventQueueTest, FifoKeepsArrivalOrder) {
  EventQueue q(EventQueue::Policy::kFifo, {{0, 100}, {5, 100}});
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
  EventQueue q(EventQueue::Policy::kPriority, {{0, 100}, {1, 100}});
  auto low = Backlog(kLow, 100), high = Backlog(kHigh, 10);
  for (auto& n : low) q.Push(&n);
  for (auto& n : high) q.Push(&n);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(q.Pop()->container, kHigh) << i;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(q.Pop()->container, kLow) << i;
  EXPECT_TRUE(q.empty());
}

TEST(EventQueueTest, PriorityIsFifoWithinAContainer) {
  EventQueue q(EventQueue::Policy::kPriority, {{0, 100}});
  auto low = Backlog(kLow, 3);
  for (auto& n : low) q.Push(&n);
  EXPECT_EQ(q.Pop(), &low[0]);
  EXPECT_EQ(q.Pop(), &low[1]);
  EXPECT_EQ(q.Pop(), &low[2]);
}

// Under a backlog of both, equal-priority containers get dispatch slots in proportion to their
// weights when every event costs the same.
TEST(EventQueueTest, WeightedSharesSlotsByWeightUnderBacklog) {
  EventQueue q(EventQueue::Policy::kWeighted, {{0, 100}, {0, 300}});
  auto low = Backlog(kLow, 400), high = Backlog(kHigh, 400);
  for (size_t i = 0; i < 400; ++i) {
    q.Push(&low[i]);
    q.Push(&high[i]);
  }
  int served[2] = {0, 0};
  for (int i = 0; i < 400; ++i) {
    EventNode* n = q.Pop();
    ++served[n->container];
    q.Charge(n->container, 1000);
  }
  EXPECT_NEAR(served[kHigh], 300, 5);
  EXPECT_NEAR(served[kLow], 100, 5);
}

// The high class with light load goes first even though the low class has a deep backlog:
// its usage is far below its share.
TEST(EventQueueTest, WeightedServesLightlyLoadedHighClassFirst) {
  EventQueue q(EventQueue::Policy::kWeighted, {{0, 100}, {0, 100}});
  auto low = Backlog(kLow, 50), high = Backlog(kHigh, 1);
  for (auto& n : low) q.Push(&n);
  for (int i = 0; i < 20; ++i) {
    EventNode* n = q.Pop();
    q.Charge(n->container, 1000);
  }
  q.Push(&high[0]);
  EXPECT_EQ(q.Pop(), &high[0]);
}

TEST(EventQueueTest, IdleContainerDoesNotBankCredit) {
  EventQueue q(EventQueue::Policy::kWeighted, {{0, 100}, {0, 100}});
  auto low = Backlog(kLow, 100), high = Backlog(kHigh, 100);
  for (int i = 0; i < 50; ++i) {
    q.Push(&low[i]);
    q.Charge(kLow, 1000);
    q.Pop();
  }
  // high was idle meanwhile; once both are backlogged they alternate instead of high taking
  // 50 slots in a row.
  for (int i = 50; i < 100; ++i) q.Push(&low[i]);
  for (auto& n : high) q.Push(&n);
  int high_in_first_20 = 0;
  for (int i = 0; i < 20; ++i) {
    EventNode* n = q.Pop();
    high_in_first_20 += n->container == kHigh;
    q.Charge(n->container, 1000);
  }
  EXPECT_NEAR(high_in_first_20, 10, 2);
}

TEST(EventQueueTest, WeightedStillHonoursStrictPriorityTiers) {
  EventQueue q(EventQueue::Policy::kWeighted, {{0, 10000}, {1, 1}});
  auto low = Backlog(kLow, 5), high = Backlog(kHigh, 5);
  for (auto& n : low) q.Push(&n);
  for (auto& n : high) q.Push(&n);
  for (int i = 0; i < 5; ++i) {
    EventNode* n = q.Pop();
    EXPECT_EQ(n->container, kHigh);
    q.Charge(n->container, 1'000'000);
  }
}

}  // namespace
}  // namespace rcbench::server
