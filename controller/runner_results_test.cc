#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "controller/runner.h"

// A run's results from the streams of one measurement window (runner_results.cc).

namespace rcbench::controller {
namespace {

TEST(ComputeResultsTest, IntervalReportsInsideTheWindowAreMerged) {
  auto stats = [](int64_t start_s, int64_t end_s, uint64_t ok) {
    rcbench::v1::StatsReport r;
    auto* c = r.add_classes();
    c->set_class_name("x");
    c->mutable_interval_start()->mutable_wall()->set_seconds(start_s);
    c->mutable_interval_end()->mutable_wall()->set_seconds(end_s);
    c->mutable_interval_start()->set_monotonic_ns(start_s * 1'000'000'000);
    c->mutable_interval_end()->set_monotonic_ns(end_s * 1'000'000'000);
    c->set_requests_ok(ok);
    return r;
  };
  // Window [10 s, 13 s]: intervals ending at 11, 12, 13 count; 10 (warm-up) and 14 do not.
  std::vector<rcbench::v1::StatsReport> reports = {stats(9, 10, 999), stats(10, 11, 100),
                                                   stats(11, 12, 200), stats(12, 13, 300),
                                                   stats(13, 14, 999)};
  auto results = ComputeClassResults(reports, {}, 10'000, 13'000);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(results[0].throughput_rps(), 200);
}

// Two classes on one generator share its CPU: both report it in cores, and per request over
// everything that generator completed.
TEST(ComputeResultsTest, GeneratorCpuIsSharedByTheClassesOfOneGenerator) {
  auto report = [](int64_t start_s) {
    rcbench::v1::StatsReport r;
    for (const auto& [name, ok] : {std::pair<const char*, uint64_t>{"high", 100}, {"low", 300}}) {
      auto* c = r.add_classes();
      c->set_class_name(name);
      c->mutable_interval_start()->mutable_wall()->set_seconds(start_s);
      c->mutable_interval_end()->mutable_wall()->set_seconds(start_s + 1);
      c->mutable_interval_start()->set_monotonic_ns(start_s * 1'000'000'000);
      c->mutable_interval_end()->set_monotonic_ns((start_s + 1) * 1'000'000'000);
      c->set_requests_ok(ok);
      c->set_generator_cpu_ns(200'000'000);  // 0.2 s of generator CPU per 1 s interval
    }
    return r;
  };
  auto results = ComputeClassResults({report(10), report(11)}, {}, 10'000, 12'000);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& c : results) {
    EXPECT_DOUBLE_EQ(c.generator_cpu_cores(), 0.2) << c.class_name();
    // 0.4 s of CPU for 800 requests over both classes: 500 us each.
    EXPECT_DOUBLE_EQ(c.generator_cpu_us_per_request(), 500) << c.class_name();
  }
}

TEST(ComputeResultsTest, ContainerUsageIsTheDifferenceOverTheWindow) {
  std::vector<rcbench::v1::UsageReport> reports;
  for (int s = 0; s <= 5; ++s) {
    rcbench::v1::UsageReport r;
    r.mutable_time()->mutable_wall()->set_seconds(100 + s);
    r.mutable_time()->set_monotonic_ns(s * 1'000'000'000LL);
    auto* c = r.add_containers();
    c->mutable_id()->set_path("p");
    c->set_cpu_usage_ns(static_cast<uint64_t>(s) * 250'000'000);  // 0.25 cores
    c->set_cpu_throttled_ns(static_cast<uint64_t>(s) * 1'000'000);
    *c->mutable_time() = r.time();
    reports.push_back(r);
  }
  auto results = ComputeContainerResults("h", reports, 101'000, 104'000);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id().host(), "h");
  EXPECT_DOUBLE_EQ(results[0].cpu_seconds(), 0.75);
  EXPECT_DOUBLE_EQ(results[0].cpu_cores(), 0.25);
  EXPECT_DOUBLE_EQ(results[0].cpu_throttled_seconds(), 0.003);
}

}  // namespace
}  // namespace rcbench::controller
