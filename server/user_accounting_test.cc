#include "server/user_accounting.h"

#include <gtest/gtest.h>

#include <thread>

namespace rcbench::server {
namespace {

class FakeThreadCpuClock : public ThreadCpuClock {
 public:
  int64_t ThreadCpuNanos() override { return now; }
  int64_t now = 1000;
};

TEST(UserAccountingTest, ReconcileScalesSlicesToThreadCpu) {
  FakeThreadCpuClock cpu;
  UserAccounting a(2, &cpu);
  a.Start();
  a.Charge(0, 300);
  a.Charge(1, 100);
  cpu.now += 800;  // the thread really used 800 ns: twice what the handlers measured
  a.Reconcile();
  EXPECT_EQ(a.ChargedNanos(0), 600u);
  EXPECT_EQ(a.ChargedNanos(1), 200u);
}

TEST(UserAccountingTest, NothingIsChargedBeforeReconcile) {
  FakeThreadCpuClock cpu;
  UserAccounting a(1, &cpu);
  a.Start();
  a.Charge(0, 500);
  EXPECT_EQ(a.ChargedNanos(0), 0u);
}

TEST(UserAccountingTest, IdleIntervalsChargeNobody) {
  FakeThreadCpuClock cpu;
  UserAccounting a(1, &cpu);
  a.Start();
  cpu.now += 1000;
  a.Reconcile();
  EXPECT_EQ(a.ChargedNanos(0), 0u);
}

TEST(UserAccountingTest, TotalsMatchRealThreadCpuWithinFivePercent) {
  RealThreadCpuClock cpu;
  UserAccounting a(2, &cpu);
  int64_t before = cpu.ThreadCpuNanos();
  a.Start();
  for (int i = 0; i < 20; ++i) {
    int64_t t0 = cpu.ThreadCpuNanos();
    volatile uint64_t x = 0;
    for (int k = 0; k < 200000; ++k) x = x + k;
    a.Charge(i % 2, cpu.ThreadCpuNanos() - t0);
  }
  a.Reconcile();
  int64_t real = cpu.ThreadCpuNanos() - before;
  double total = static_cast<double>(a.ChargedNanos(0) + a.ChargedNanos(1));
  EXPECT_NEAR(total / static_cast<double>(real), 1.0, 0.05);
}

}  // namespace
}  // namespace rcbench::server
