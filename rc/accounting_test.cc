#include "rc/accounting.h"

#include <time.h>

#include <thread>

#include "gtest/gtest.h"

namespace rcbench::rc {
namespace {

int64_t g_now_ns = 0;
int64_t g_cpu_ns = 0;
int64_t FakeNow() { return g_now_ns; }
int64_t FakeCpu() { return g_cpu_ns; }
constexpr AccountingClocks kFakeClocks{&FakeNow, &FakeCpu};

// Advances wall and CPU time together (the thread runs the whole time).
void RunFor(int64_t ns) {
  g_now_ns += ns;
  g_cpu_ns += ns;
}

class RcAccountingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_now_ns = 1'000'000;
    g_cpu_ns = 5'000;
    ThreadAccounting::ResetThreadForTesting(&kFakeClocks);
    ThreadAccounting::SetReconcilePeriod(std::chrono::seconds(1));
  }
  void TearDown() override { ThreadAccounting::ResetThreadForTesting(nullptr); }

  std::shared_ptr<LogicalContainer> a_ = LogicalContainer::Create("a");
  std::shared_ptr<LogicalContainer> b_ = LogicalContainer::Create("b");
};

TEST_F(RcAccountingTest, SwitchChargesElapsedTimeToTheContainerLeft) {
  ThreadAccounting::SwitchTo(a_);
  RunFor(300);
  ThreadAccounting::SwitchTo(b_);
  RunFor(100);
  ThreadAccounting::SwitchTo(nullptr);
  ThreadAccounting::Reconcile();
  EXPECT_EQ(a_->charged_ns(), 300u);
  EXPECT_EQ(b_->charged_ns(), 100u);
}

TEST_F(RcAccountingTest, NothingIsChargedBeforeReconciliation) {
  ThreadAccounting::SwitchTo(a_);
  RunFor(300);
  ThreadAccounting::SwitchTo(b_);
  EXPECT_EQ(a_->charged_ns(), 0u);
}

TEST_F(RcAccountingTest, SlicesAreScaledDownToTheThreadsCpuTime) {
  ThreadAccounting::SwitchTo(a_);
  g_now_ns += 300;
  g_cpu_ns += 150;  // preempted half the time
  ThreadAccounting::SwitchTo(b_);
  g_now_ns += 100;
  g_cpu_ns += 50;
  ThreadAccounting::SwitchTo(nullptr);
  ThreadAccounting::Reconcile();
  EXPECT_EQ(a_->charged_ns(), 150u);
  EXPECT_EQ(b_->charged_ns(), 50u);
  EXPECT_EQ(ThreadAccounting::Totals().charged_ns, 200u);
}

TEST_F(RcAccountingTest, IdleTimeIsNotChargedAndIdleCpuIsUnattributed) {
  ThreadAccounting::SwitchTo(nullptr);
  g_now_ns += 10'000;  // blocked in epoll_wait
  g_cpu_ns += 40;      // the system call itself
  ThreadAccounting::SwitchTo(a_);
  RunFor(100);
  ThreadAccounting::SwitchTo(nullptr);
  ThreadAccounting::Reconcile();
  EXPECT_EQ(a_->charged_ns(), 100u);
  EXPECT_EQ(ThreadAccounting::Totals().unattributed_ns, 40u);
}

TEST_F(RcAccountingTest, ChargesAndUnattributedSumToTheThreadsCpuTime) {
  const int64_t cpu_start = g_cpu_ns;
  ThreadAccounting::SwitchTo(a_);
  for (int i = 0; i < 100; ++i) {
    g_now_ns += 37;
    g_cpu_ns += 29;
    ThreadAccounting::SwitchTo(i % 3 == 0 ? b_ : a_);
    g_now_ns += 11;
    g_cpu_ns += 13;
    ThreadAccounting::SwitchTo(nullptr);
  }
  ThreadAccounting::Reconcile();
  const ThreadAccountingTotals t = ThreadAccounting::Totals();
  EXPECT_EQ(t.charged_ns + t.unattributed_ns, static_cast<uint64_t>(g_cpu_ns - cpu_start));
  EXPECT_EQ(a_->charged_ns() + b_->charged_ns(), t.charged_ns);
}

TEST_F(RcAccountingTest, ChargesPropagateToEveryAncestor) {
  auto web = LogicalContainer::Create("web");
  auto conn = LogicalContainer::Create("conn", web);
  auto leaf = LogicalContainer::Create("req", conn);
  ThreadAccounting::SwitchTo(leaf);
  RunFor(70);
  ThreadAccounting::SwitchTo(conn);
  RunFor(30);
  ThreadAccounting::Reconcile();
  EXPECT_EQ(leaf->charged_ns(), 70u);
  EXPECT_EQ(conn->charged_ns(), 30u);
  EXPECT_EQ(conn->subtree_charged_ns(), 100u);
  EXPECT_EQ(web->subtree_charged_ns(), 100u);
  EXPECT_EQ(web->charged_ns(), 0u);
  EXPECT_EQ(leaf->Path(), "web/conn/req");
}

TEST_F(RcAccountingTest, ReconciliationHappensAtTheFirstSwitchAfterThePeriod) {
  ThreadAccounting::SetReconcilePeriod(std::chrono::microseconds(1));
  ThreadAccounting::SwitchTo(a_);
  RunFor(2000);
  ThreadAccounting::SwitchTo(b_);
  EXPECT_EQ(a_->charged_ns(), 2000u);
  EXPECT_EQ(ThreadAccounting::Totals().reconciliations, 1u);
}

TEST_F(RcAccountingTest, CurrentIsTheContainerSwitchedTo) {
  EXPECT_EQ(ThreadAccounting::Current(), nullptr);
  ThreadAccounting::SwitchTo(a_);
  EXPECT_EQ(ThreadAccounting::Current(), a_);
  ThreadAccounting::Reconcile();
  EXPECT_EQ(ThreadAccounting::Current(), a_);
  ThreadAccounting::SwitchTo(nullptr);
  EXPECT_EQ(ThreadAccounting::Current(), nullptr);
}

TEST_F(RcAccountingTest, AContainerDroppedByItsOwnerIsStillChargedThenFreed) {
  auto c = LogicalContainer::Create("conn");
  std::weak_ptr<LogicalContainer> weak = c;
  ThreadAccounting::SwitchTo(c);
  RunFor(50);
  ThreadAccounting::SwitchTo(a_);
  c.reset();
  ASSERT_FALSE(weak.expired());
  ThreadAccounting::Reconcile();
  EXPECT_TRUE(weak.expired());
}

TEST_F(RcAccountingTest, ManyContainersPerPeriodAreEachChargedOnce) {
  std::vector<std::shared_ptr<LogicalContainer>> conns;
  for (int i = 0; i < 100; ++i) conns.push_back(LogicalContainer::Create("c"));
  for (int round = 0; round < 3; ++round) {
    for (auto& c : conns) {
      ThreadAccounting::SwitchTo(c);
      RunFor(10);
    }
  }
  ThreadAccounting::SwitchTo(nullptr);
  ThreadAccounting::Reconcile();
  for (auto& c : conns) EXPECT_EQ(c->charged_ns(), 30u);
}

TEST_F(RcAccountingTest, AttributesAreClamped) {
  auto c = LogicalContainer::Create("c", nullptr, {.priority = 2, .weight = 0, .min_share = 3});
  EXPECT_EQ(c->priority(), 2);
  EXPECT_EQ(c->weight(), 1u);
  EXPECT_EQ(c->min_share(), 1.0);
}

int64_t ThreadCpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

void SpinFor(int64_t cpu_ns) {
  const int64_t end = ThreadCpuNow() + cpu_ns;
  while (ThreadCpuNow() < end) {
  }
}

// With the real clocks: what the thread charged matches its CPU clock within 5%, and the split
// between containers follows the work done in each.
TEST(RcAccountingRealClockTest, ChargedTotalsMatchTheThreadsCpuTime) {
  std::thread worker([] {
    ThreadAccounting::ResetThreadForTesting(nullptr);
    auto a = LogicalContainer::Create("a");
    auto b = LogicalContainer::Create("b");
    const int64_t cpu_start = ThreadCpuNow();
    for (int i = 0; i < 200; ++i) {
      ThreadAccounting::SwitchTo(a);
      SpinFor(300'000);
      ThreadAccounting::SwitchTo(b);
      SpinFor(100'000);
    }
    ThreadAccounting::SwitchTo(nullptr);
    ThreadAccounting::Reconcile();
    const double cpu = static_cast<double>(ThreadCpuNow() - cpu_start);
    const double charged = static_cast<double>(a->charged_ns() + b->charged_ns());
    EXPECT_NEAR(charged / cpu, 1.0, 0.05) << "charged " << charged << " ns of " << cpu;
    EXPECT_NEAR(static_cast<double>(a->charged_ns()) / charged, 0.75, 0.05);
  });
  worker.join();
}

TEST(RcAccountingRealClockTest, ThreadsChargingOneContainerAddUp) {
  auto shared = LogicalContainer::Create("shared");
  auto work = [&] {
    ThreadAccounting::SwitchTo(shared);
    SpinFor(20'000'000);
    ThreadAccounting::SwitchTo(nullptr);
    ThreadAccounting::Reconcile();
  };
  std::thread t1(work), t2(work);
  t1.join();
  t2.join();
  EXPECT_NEAR(static_cast<double>(shared->charged_ns()), 40e6, 40e6 * 0.05);
}

}  // namespace
}  // namespace rcbench::rc
