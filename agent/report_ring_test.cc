#include "agent/report_ring.h"

#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

ReportPtr Report(uint64_t seq, int containers = 0) {
  auto r = std::make_shared<rcbench::v1::UsageReport>();
  r->set_sequence(seq);
  for (int i = 0; i < containers; ++i) r->add_containers()->mutable_id()->set_path("c");
  return r;
}

std::vector<uint64_t> Seqs(const ReportRing::Batch& b) {
  std::vector<uint64_t> s;
  for (const auto& r : b.reports) s.push_back(r->sequence());
  return s;
}

TEST(ReportRingTest, KeepsTheNewestReportsUpToItsCount) {
  ReportRing ring(3, 1 << 20);
  for (uint64_t i = 1; i <= 5; ++i) ring.Append(Report(i));
  EXPECT_EQ(ring.size(), 3u);
  auto b = ring.WaitAfter(0, std::chrono::nanoseconds(0));
  EXPECT_EQ(Seqs(b), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(b.missed, 2u);
}

TEST(ReportRingTest, ByteBoundDropsOldestButKeepsTheNewest) {
  ReportRing ring(100, 10);
  ring.Append(Report(1, 5));
  ring.Append(Report(2, 5));
  EXPECT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring.last_sequence(), 2u);
}

TEST(ReportRingTest, WaitAfterReturnsOnlyNewerReports) {
  ReportRing ring(10, 1 << 20);
  for (uint64_t i = 1; i <= 4; ++i) ring.Append(Report(i));
  auto b = ring.WaitAfter(2, std::chrono::nanoseconds(0));
  EXPECT_EQ(Seqs(b), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(b.missed, 0u);
  EXPECT_TRUE(ring.WaitAfter(4, std::chrono::nanoseconds(0)).reports.empty());
}

TEST(ReportRingTest, CloseWakesWaitersForGood) {
  ReportRing ring(10, 1 << 20);
  ring.Close();
  auto b = ring.WaitAfter(0, std::chrono::hours(1));
  EXPECT_TRUE(b.closed);
  EXPECT_TRUE(b.reports.empty());
}

}  // namespace
}  // namespace rcbench::agent
