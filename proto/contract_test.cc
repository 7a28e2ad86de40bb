// Contract tests: each service's generated code compiles, round-trips through a real
// in-process gRPC server, and can express its streaming semantics (resume by sequence number).

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "grpc/health/v1/health.grpc.pb.h"
#include "rcbench/v1/agent.grpc.pb.h"
#include "rcbench/v1/controller.grpc.pb.h"
#include "rcbench/v1/loadgen.grpc.pb.h"
#include "rcbench/v1/loadgen_mock.grpc.pb.h"

namespace rcbench::v1 {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::Return;
using ::testing::SetArgPointee;

// A minimal Agent that serves SubscribeUsage from a fixed ring of reports: enough to show a
// subscriber can resume after a given sequence number without loss or duplication.
class RingAgent final : public Agent::Service {
 public:
  explicit RingAgent(uint64_t first, uint64_t last) {
    for (uint64_t s = first; s <= last; ++s) {
      UsageReport r;
      r.set_sequence(s);
      r.set_agent_instance("test");
      ring_.push_back(r);
    }
  }

  grpc::Status SubscribeUsage(grpc::ServerContext*, const SubscribeUsageRequest* req,
                              grpc::ServerWriter<UsageReport>* writer) override {
    uint64_t after = req->resume_after_sequence();
    bool first = true;
    for (const UsageReport& r : ring_) {
      if (r.sequence() <= after) continue;
      UsageReport out = r;
      if (first && after + 1 < r.sequence()) out.set_missed_reports(r.sequence() - after - 1);
      first = false;
      writer->Write(out);
    }
    return grpc::Status::OK;
  }

  grpc::Status CreateContainer(grpc::ServerContext*, const CreateContainerRequest* req,
                               ContainerInfo* resp) override {
    if (req->path().find("..") != std::string::npos) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "path escapes the subtree");
    }
    resp->mutable_id()->set_path(req->path());
    *resp->mutable_attributes() = req->attributes();
    return grpc::Status::OK;
  }

 private:
  std::deque<UsageReport> ring_;
};

class ControllerStub final : public Controller::Service {
  grpc::Status SubmitExperiment(grpc::ServerContext*, const SubmitExperimentRequest* req,
                                SubmitExperimentResponse* resp) override {
    resp->set_experiment(req->spec_name());
    Run* run = resp->add_runs();
    (*run->mutable_factors())["containers"] = "on";
    run->set_status(RUN_STATUS_PENDING);
    return grpc::Status::OK;
  }
};

class ContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.RegisterService(&agent_);
    builder.RegisterService(&controller_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
  }
  void TearDown() override { server_->Shutdown(); }

  std::vector<uint64_t> Subscribe(uint64_t after, uint64_t* missed) {
    auto stub = Agent::NewStub(channel_);
    grpc::ClientContext ctx;
    SubscribeUsageRequest req;
    req.set_resume_after_sequence(after);
    auto reader = stub->SubscribeUsage(&ctx, req);
    std::vector<uint64_t> seqs;
    UsageReport r;
    *missed = 0;
    while (reader->Read(&r)) {
      seqs.push_back(r.sequence());
      *missed += r.missed_reports();
    }
    EXPECT_TRUE(reader->Finish().ok());
    return seqs;
  }

  RingAgent agent_{5, 10};
  ControllerStub controller_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ContractTest, ResumedSubscriptionContinuesAfterTheLastSequenceSeen) {
  uint64_t missed;
  EXPECT_EQ(Subscribe(7, &missed), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(missed, 0u);
}

TEST_F(ContractTest, ResumingPastTheRingReportsHowManyWereLost) {
  uint64_t missed;
  EXPECT_EQ(Subscribe(2, &missed), (std::vector<uint64_t>{5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(missed, 2u);  // 3 and 4 left the ring
}

TEST_F(ContractTest, AgentErrorsCarryTheirCode) {
  auto stub = Agent::NewStub(channel_);
  grpc::ClientContext ctx;
  CreateContainerRequest req;
  req.set_path("../escape");
  ContainerInfo info;
  EXPECT_EQ(stub->CreateContainer(&ctx, req, &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ContractTest, OptionalAttributesDistinguishUnsetFromZero) {
  auto stub = Agent::NewStub(channel_);
  grpc::ClientContext ctx;
  CreateContainerRequest req;
  req.set_path("exp/high");
  req.mutable_attributes()->set_cpu_limit_cores(0);
  ContainerInfo info;
  ASSERT_TRUE(stub->CreateContainer(&ctx, req, &info).ok());
  EXPECT_TRUE(info.attributes().has_cpu_limit_cores());
  EXPECT_FALSE(info.attributes().has_cpu_weight());
}

TEST_F(ContractTest, ControllerSubmitRoundTrips) {
  auto stub = Controller::NewStub(channel_);
  grpc::ClientContext ctx;
  SubmitExperimentRequest req;
  req.set_spec_name("smoke");
  req.set_dry_run(true);
  SubmitExperimentResponse resp;
  ASSERT_TRUE(stub->SubmitExperiment(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.runs_size(), 1);
  EXPECT_EQ(resp.runs(0).factors().at("containers"), "on");
}

TEST_F(ContractTest, ServersAnswerStandardHealthChecks) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(LoadGenContractTest, MockStubExpressesLeaseRenewal) {
  MockLoadGenStub stub;
  RenewLeaseResponse renewed;
  renewed.mutable_lease_expires()->set_seconds(1'700'000'010);
  EXPECT_CALL(stub, RenewLease(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(renewed), Return(grpc::Status::OK)));
  grpc::ClientContext ctx;
  RenewLeaseRequest req;
  req.set_lease_id("lease-1");
  req.mutable_extend_by()->set_seconds(10);
  RenewLeaseResponse resp;
  ASSERT_TRUE(stub.RenewLease(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.lease_expires().seconds(), 1'700'000'010);
}

TEST(LoadGenContractTest, WorkloadHoldsOneModePerClass) {
  HttpClass c;
  c.mutable_sclient()->set_clients(4);
  EXPECT_EQ(c.mode_case(), HttpClass::kSclient);
  c.mutable_closed_loop()->set_connections(50);
  EXPECT_EQ(c.mode_case(), HttpClass::kClosedLoop);
  EXPECT_FALSE(c.has_sclient());
}

TEST(CommonContractTest, HistogramEncodingSurvivesSerialization) {
  LatencyHistogram h;
  h.set_sub_bucket_bits(8);
  h.add_bucket_index(3);
  h.add_bucket_count(7);
  h.add_bucket_index(900);
  h.add_bucket_count(1);
  h.set_total_count(8);
  LatencyHistogram back;
  ASSERT_TRUE(back.ParseFromString(h.SerializeAsString()));
  EXPECT_EQ(back.bucket_index_size(), 2);
  EXPECT_EQ(back.bucket_count(1), 1u);
}

}  // namespace
}  // namespace rcbench::v1
