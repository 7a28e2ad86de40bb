// AgentService's usage stream: SubscribeUsage from the report ring, resuming, filtering and
// shutdown.

#include <grpcpp/grpcpp.h>

#include <vector>

#include "agent/agent_service.h"
#include "agent/agent_service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {
namespace {

using testing::AgentServiceTest;
using ::testing::ElementsAre;
namespace v1 = rcbench::v1;

TEST_F(AgentServiceTest, SubscribeFromZeroStartsWithTheNewestReportThenLiveOnes) {
  SampleTimes(3);
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  EXPECT_THAT(Read(reader.get(), 1, &reports), ElementsAre(3u));
  SampleTimes(2);
  EXPECT_THAT(Read(reader.get(), 2), ElementsAre(4u, 5u));
  EXPECT_EQ(reports[0].containers_size(), 3);
  EXPECT_EQ(reports[0].agent_instance(), agent_->instance());
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, ResumeAfterDisconnectLosesAndRepeatsNothing) {
  SampleTimes(1);
  std::vector<uint64_t> seen;
  {
    grpc::ClientContext ctx;
    auto reader = stub_->SubscribeUsage(&ctx, v1::SubscribeUsageRequest());
    auto first = Read(reader.get(), 1);
    seen.insert(seen.end(), first.begin(), first.end());
    SampleTimes(3);
    auto more = Read(reader.get(), 3);
    seen.insert(seen.end(), more.begin(), more.end());
    ctx.TryCancel();  // the subscriber goes away
    reader->Finish();
  }
  SampleTimes(3);  // reports 5..7 are produced while nobody listens
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.set_resume_after_sequence(seen.back());
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  auto replay = Read(reader.get(), 3, &reports);
  seen.insert(seen.end(), replay.begin(), replay.end());
  SampleTimes(1);
  auto live = Read(reader.get(), 1);
  seen.insert(seen.end(), live.begin(), live.end());
  EXPECT_THAT(seen, ElementsAre(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));
  EXPECT_EQ(reports[0].missed_reports(), 0u);
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, ResumeFromBeyondTheRingSaysHowManyWereMissed) {
  SampleTimes(10);  // the ring keeps 6..10
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.set_resume_after_sequence(2);
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  EXPECT_THAT(Read(reader.get(), 5, &reports), ElementsAre(6u, 7u, 8u, 9u, 10u));
  EXPECT_EQ(reports[0].missed_reports(), 3u);
  EXPECT_EQ(reports[1].missed_reports(), 0u);
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, PathPrefixesSelectWholeComponents) {
  ASSERT_TRUE(admin_->Create("web2", {}, false).ok());
  SampleTimes(1);
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.add_path_prefixes("web");
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  Read(reader.get(), 1, &reports);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].containers_size(), 1);
  EXPECT_EQ(reports[0].containers(0).id().path(), "web");
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, SubscribeWithAnEscapingPrefixIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.add_path_prefixes("../x");
  auto reader = stub_->SubscribeUsage(&ctx, req);
  v1::UsageReport r;
  EXPECT_FALSE(reader->Read(&r));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, ResumeBeyondTheNewestReportStartsWithTheNewestInsteadOfHanging) {
  SampleTimes(3);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::SubscribeUsageRequest req;
  req.set_resume_after_sequence(1'000'000);
  auto reader = stub_->SubscribeUsage(&ctx, req);
  EXPECT_THAT(Read(reader.get(), 1), ElementsAre(3u));
  SampleTimes(1);
  EXPECT_THAT(Read(reader.get(), 1), ElementsAre(4u));
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, ReportsCountContainersThatCouldNotBeSampled) {
  SampleTimes(1);
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.add_path_prefixes("web");
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  Read(reader.get(), 1, &reports);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].containers_not_sampled(), 0u);  // the field survives filtering
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, ShutdownEndsOpenSubscriptions) {
  SampleTimes(1);
  grpc::ClientContext ctx;
  auto reader = stub_->SubscribeUsage(&ctx, v1::SubscribeUsageRequest());
  Read(reader.get(), 1);
  impl_->Shutdown();
  v1::UsageReport r;
  while (reader->Read(&r)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

}  // namespace
}  // namespace rcbench::agent
