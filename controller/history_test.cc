#include "controller/history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

RunRecord Completed(const std::string& id, int64_t started_s, double throughput,
                    std::map<std::string, std::string> tags = {}) {
  RunRecord r;
  r.run.set_run_id(id);
  r.run.set_status(rcbench::v1::RUN_STATUS_COMPLETED);
  r.run.mutable_started_at()->set_seconds(started_s);
  for (const auto& [k, v] : tags) (*r.run.mutable_tags())[k] = v;
  r.metrics[ClassMetricKey("throughput_rps", "high")] = throughput;
  r.metrics[ClassMetricKey("throughput_rps", "low")] = throughput / 2;
  return r;
}

// Ten campaigns (tag build=gN, started in order) of three runs; throughput steps up 15% at the
// seventh (point 6).
std::vector<RunRecord> TenCampaigns() {
  std::mt19937_64 rng(6);
  std::normal_distribution<double> noise(0, 10);
  std::vector<RunRecord> runs;
  for (int g = 0; g < 10; ++g) {
    for (int rep = 0; rep < 3; ++rep) {
      runs.push_back(Completed(absl::StrCat("r", g, "-", rep), 1000 + 10 * g + rep,
                               (g >= 6 ? 1150 : 1000) + noise(rng),
                               {{"build", absl::StrCat("g", g)}}));
    }
  }
  return runs;
}

HistoryOptions HighThroughput() {
  HistoryOptions o;
  o.experiment = "e";
  o.metric = "throughput_rps";
  o.load_class = "high";
  return o;
}

TEST(OrderStatisticMedianInterval, FiveValuesGiveTheRangeWithItsCoverage) {
  MedianInterval i = OrderStatisticMedianInterval({5, 1, 4, 2, 3});
  EXPECT_EQ(i.low, 1);
  EXPECT_EQ(i.high, 5);
  EXPECT_DOUBLE_EQ(i.coverage, 1 - 2.0 / 32);
}

TEST(OrderStatisticMedianInterval, TwentyValuesGiveTheSixthAndFifteenthWithAtLeast95Percent) {
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back(i);
  MedianInterval i = OrderStatisticMedianInterval(v);
  // P(Bin(20, 1/2) <= 5) = 0.0207, so [x(6), x(15)] covers 95.9%; [x(7), x(14)] only 88.5%.
  EXPECT_EQ(i.low, 6);
  EXPECT_EQ(i.high, 15);
  EXPECT_NEAR(i.coverage, 0.9586, 1e-4);
}

TEST(BuildHistory, RunsWithoutACampaignAreGroupedByTheirTags) {
  auto h = BuildHistory(TenCampaigns(), HighThroughput());
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->points.size(), 10u);
  EXPECT_EQ(h->points[0].label, "build=g0");
  EXPECT_EQ(h->points[9].label, "build=g9");
  EXPECT_EQ(h->points[3].runs, 3u);
  EXPECT_EQ(h->runs, 30u);
}

TEST(BuildHistory, ACampaignNameWinsOverTheTags) {
  auto runs = TenCampaigns();
  runs[0].run.set_campaign("baseline");
  auto h = BuildHistory(runs, HighThroughput());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->points[0].label, "baseline");
  EXPECT_EQ(h->points[1].label, "build=g0");
}

TEST(BuildHistory, ByKernelGroupsByTheHostsKernel) {
  auto runs = TenCampaigns();
  for (size_t i = 0; i < runs.size(); ++i) {
    auto& facts = runs[i].hosts["local"];
    facts.set_kernel_release(i < 18 ? "6.1.0" : "6.8.0");
    facts.set_kernel_version("#1 SMP");
  }
  HistoryOptions o = HighThroughput();
  o.by = HistoryGrouping::kKernel;
  auto h = BuildHistory(runs, o);
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->points.size(), 2u);
  EXPECT_EQ(h->points[0].label, "6.1.0 (#1 SMP)");
  EXPECT_EQ(h->points[0].runs, 18u);
}

TEST(BuildHistory, ByTimeIsOnePointPerRunInStartOrder) {
  auto runs = TenCampaigns();
  std::swap(runs[0], runs[5]);
  HistoryOptions o = HighThroughput();
  o.by = HistoryGrouping::kTime;
  auto h = BuildHistory(runs, o);
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->points.size(), 30u);
  EXPECT_EQ(h->points[0].label, "r0-0");
}

TEST(BuildHistory, AFifteenPercentStepAtTheSeventhCampaignIsAChangePoint) {
  auto h = BuildHistory(TenCampaigns(), HighThroughput());
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->change_points.change_points.size(), 1u);
  const ChangePoint& c = h->change_points.change_points[0];
  EXPECT_EQ(c.index, 6u);
  EXPECT_NEAR(c.relative_change, 0.15, 0.02);
  EXPECT_THAT(FormatHistoryText(*h), HasSubstr("at point 6 (build=g6)"));
  auto j = nlohmann::json::parse(FormatHistoryJson(*h));
  EXPECT_EQ(j["change_points"][0]["index"], 6);
  EXPECT_EQ(j["parameters"]["min_segment"], 3);
}

TEST(BuildHistory, AnAmbiguousBaseNameListsTheKeys) {
  HistoryOptions o = HighThroughput();
  o.load_class.clear();
  auto h = BuildHistory(TenCampaigns(), o);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(h.status().message(), HasSubstr("throughput_rps{class=low}"));
}

TEST(BuildHistory, AnUnknownMetricIsNotFoundAndListsTheMetrics) {
  HistoryOptions o = HighThroughput();
  o.metric = "goodput";
  auto h = BuildHistory(TenCampaigns(), o);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(h.status().message(), HasSubstr("goodput{class=high}"));
  EXPECT_THAT(h.status().message(), HasSubstr("throughput_rps{class=high}"));
}

}  // namespace
}  // namespace rcbench::controller
