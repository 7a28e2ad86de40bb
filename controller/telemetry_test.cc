// The usage subscription survives disconnects without losing or repeating samples, the
// controller's /metrics is served, and the Controller gRPC service validates and plans.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/daemon.h"
#include "common/testing/fake_clock.h"
#include "common/testing/http_get.h"
#include "common/testing/rpc_testing.h"
#include "common/testing/wait_for.h"
#include "controller/controller_metrics.h"
#include "controller/controller_service.h"
#include "controller/runner.h"
#include "controller/testing/fake_testbed.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

// An agent whose streams break after `per_stream` reports, recording each resume point.
class FlakyAgent : public testing::FakeAgentClient {
 public:
  FlakyAgent(Clock& clock, int per_stream) : FakeAgentClient("flaky", clock), per_(per_stream) {}
  std::unique_ptr<Stream<rcbench::v1::UsageReport>> SubscribeUsage(uint64_t resume) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      resumes_.push_back(resume);
    }
    auto sent = std::make_shared<int>(0);
    auto next = std::make_shared<uint64_t>(resume + 1);
    return std::make_unique<testing::FakeStream<rcbench::v1::UsageReport>>(
        [this, sent, next]() -> std::optional<std::optional<rcbench::v1::UsageReport>> {
          if ((*sent)++ >= per_) return std::optional<rcbench::v1::UsageReport>();  // break
          rcbench::v1::UsageReport r;
          r.set_sequence((*next)++);
          r.set_agent_instance("i1");
          r.mutable_time()->mutable_wall()->set_seconds(100);
          return std::optional<rcbench::v1::UsageReport>(r);
        });
  }
  std::vector<uint64_t> resumes() {
    std::lock_guard<std::mutex> lock(mu_);
    return resumes_;
  }

 private:
  int per_;
  std::mutex mu_;
  std::vector<uint64_t> resumes_;
};

TEST(UsageCollectorTest, ResumesAfterTheLastSequenceWithoutGapsOrRepeats) {
  rcbench::testing::FakeClock clock;
  FlakyAgent agent(clock, 3);
  {
    UsageCollector collector(agent, clock);
    // The collector streams on its own thread.
    EXPECT_TRUE(rcbench::testing::WaitFor([&] { return collector.last_sequence() >= 9; },
                                          std::chrono::seconds(10), "report 9")
                    .ok());
    auto reports = collector.Between(0, 1'000'000);
    ASSERT_GE(reports.size(), 9u);
    for (size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(reports[i].sequence(), i + 1);
    EXPECT_GE(collector.reconnects(), 2);
  }
  auto resumes = agent.resumes();
  ASSERT_GE(resumes.size(), 3u);
  EXPECT_EQ(resumes[0], 0u);
  EXPECT_EQ(resumes[1], 3u);
  EXPECT_EQ(resumes[2], 6u);
}

TEST(ControllerMetricsTest, MetricsAreServedWithProgressFactorsAndLiveClassValues) {
  ControllerMetrics metrics;
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0", metrics.registry());
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const std::string bound = (*endpoint)->address();
  metrics.SetPlanned("smoke", 8, 2);
  metrics.RunFinished("smoke", "completed");
  metrics.SetCurrentRun("smoke", {{"containers", "on"}});
  metrics.SetCurrentRun("smoke", {{"containers", "off"}});
  metrics.SetPhase("smoke", "measure");
  metrics.SetClassLive("high", 1234, 0.001, 0.01);
  auto response = rcbench::testing::HttpGet(bound, "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  const std::string& body = response->body;
  EXPECT_THAT(body, HasSubstr("rcbench_controller_runs_remaining{experiment=\"smoke\"} 5"));
  EXPECT_THAT(body, HasSubstr("level=\"off\""));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("level=\"on\"")));
  EXPECT_THAT(body, HasSubstr("phase=\"measure\""));
  EXPECT_THAT(body, HasSubstr("rcbench_controller_class_throughput_rps{class=\"high\"} 1234"));
}

class ControllerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("rcbench-service-test-" + std::to_string(getpid()) + ".db");
    std::filesystem::remove(path_);
    store_ = *SqliteResultStore::Open(path_.string());
    service_ = std::make_unique<ControllerService>(
        *store_,
        [this](const ExperimentSpec& spec, const std::map<std::string, std::string>&) {
          std::lock_guard<std::mutex> lock(mu_);
          executed_.push_back(spec.name);
          return absl::OkStatus();
        },
        rcbench::testing::TestAuthorizer("rcbench serve"), nullptr);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = rcbench::v1::Controller::NewStub(rcbench::testing::InProcessChannelWithToken(
        server_.get(), rcbench::testing::kControlToken));
  }
  void TearDown() override {
    server_->Shutdown();
    service_.reset();
    store_.reset();
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + s);
  }

  std::filesystem::path path_;
  std::unique_ptr<SqliteResultStore> store_;
  std::unique_ptr<ControllerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<rcbench::v1::Controller::Stub> stub_;
  std::mutex mu_;
  std::vector<std::string> executed_;
};

TEST_F(ControllerServiceTest, DryRunReturnsThePlannedRunsWithoutRunning) {
  rcbench::v1::SubmitExperimentRequest req;
  req.set_spec_yaml("name: s\nfactors:\n  a: [1, 2]\nrepetitions: 2\nseed: 4\n");
  req.set_dry_run(true);
  rcbench::v1::SubmitExperimentResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->SubmitExperiment(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.experiment(), "s");
  ASSERT_EQ(resp.runs_size(), 4);
  EXPECT_EQ(resp.runs(0).seed(), 4u);
  service_->Shutdown();  // nothing was queued, so nothing can run after this
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_TRUE(executed_.empty());
}

TEST_F(ControllerServiceTest, InvalidSpecIsInvalidArgumentWithPositions) {
  rcbench::v1::SubmitExperimentRequest req;
  req.set_spec_yaml("name: s\nrepetitions: -1\n");
  req.set_spec_name("remote.yaml");
  rcbench::v1::SubmitExperimentResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->SubmitExperiment(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("remote.yaml:2:14: repetitions"));
}

TEST_F(ControllerServiceTest, SubmittedExperimentIsExecuted) {
  rcbench::v1::SubmitExperimentRequest req;
  req.set_spec_yaml("name: queued\n");
  rcbench::v1::SubmitExperimentResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->SubmitExperiment(&ctx, req, &resp).ok());
  EXPECT_TRUE(rcbench::testing::WaitFor(
                  [&] {
                    std::lock_guard<std::mutex> lock(mu_);
                    return !executed_.empty();
                  },
                  std::chrono::seconds(10), "the experiment to execute")
                  .ok());
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(executed_, std::vector<std::string>{"queued"});
}

TEST_F(ControllerServiceTest, UnknownRunIsNotFound) {
  rcbench::v1::GetResultsRequest req;
  req.set_run_id("nope");
  rcbench::v1::GetResultsResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub_->GetResults(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControllerServiceTest, SubmittingNeedsTheControlRoleAndListingTheReadRole) {
  const auto* service =
      rcbench::v1::ListRunsRequest::descriptor()->file()->FindServiceByName("Controller");
  auto anonymous = rcbench::testing::InProcessChannelWithToken(server_.get(), "");
  for (const auto& [method, status] : rcbench::testing::CallEachMethod(anonymous, service)) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
  }
  auto reader =
      rcbench::testing::InProcessChannelWithToken(server_.get(), rcbench::testing::kReadToken);
  auto submit = rcbench::testing::CallEachMethod(reader, service, {"SubmitExperiment"});
  EXPECT_EQ(submit.at("SubmitExperiment").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto stub = rcbench::v1::Controller::NewStub(reader);
  grpc::ClientContext ctx;
  rcbench::v1::ListRunsResponse runs;
  EXPECT_TRUE(stub->ListRuns(&ctx, rcbench::v1::ListRunsRequest(), &runs).ok());
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_TRUE(executed_.empty());
}

TEST_F(ControllerServiceTest, AMatrixOverTheRunLimitIsRefusedBeforeExpansion) {
  // 10^7 planned runs: expanded, the response alone would take gigabytes.
  std::string yaml = "name: big\nfactors:\n";
  for (char f = 'a'; f < 'a' + 7; ++f) {
    yaml += std::string("  ") + f + ": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  }
  rcbench::v1::SubmitExperimentRequest req;
  req.set_spec_yaml(yaml);
  req.set_spec_name("big.yaml");
  rcbench::v1::SubmitExperimentResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->SubmitExperiment(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("big.yaml:3:3: the factor matrix plans 10000000 runs (a=10 x b=10"));
  EXPECT_EQ(resp.runs_size(), 0);
  service_->Shutdown();
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_TRUE(executed_.empty());
}

}  // namespace
}  // namespace rcbench::controller
