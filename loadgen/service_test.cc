// The LoadGen gRPC service over an in-process channel, driving real (short) runs against an
// in-process HTTP server.

#include "loadgen/service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "common/clock.h"
#include "common/testing/fake_clock.h"
#include "common/testing/process_memory.h"
#include "common/testing/rpc_testing.h"
#include "loadgen/testing/test_http_server.h"
#include "rcbench/v1/loadgen.grpc.pb.h"

namespace rcbench::loadgen {
namespace {

using testing::TestHttpServer;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<LoadGenService>(AllowList(), int64_t{60} * 1'000'000'000, clock_,
                                                &metrics_, rcbench::testing::TestAuthorizer());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = rcbench::v1::LoadGen::NewStub(rcbench::testing::InProcessChannelWithToken(
        server_.get(), rcbench::testing::kControlToken));
  }
  void TearDown() override {
    service_->Shutdown();
    server_->Shutdown();
  }

  rcbench::v1::Workload Workload(int64_t duration_ms) {
    rcbench::v1::Workload w;
    w.mutable_duration()->set_seconds(duration_ms / 1000);
    w.mutable_duration()->set_nanos(static_cast<int32_t>((duration_ms % 1000) * 1'000'000));
    w.mutable_stats_interval()->set_nanos(100'000'000);
    w.set_threads(1);
    auto* c = w.add_http_classes();
    c->set_name("high");
    c->set_target(http_.url());
    c->set_keep_alive(true);
    c->mutable_closed_loop()->set_connections(2);
    return w;
  }

  std::string Configure(const rcbench::v1::Workload& w) {
    grpc::ClientContext ctx;
    rcbench::v1::ConfigureRequest req;
    *req.mutable_workload() = w;
    rcbench::v1::ConfigureResponse resp;
    const grpc::Status s = stub_->Configure(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.workload_id();
  }

  rcbench::v1::StartResponse Start(const std::string& workload_id, int64_t lease_ms,
                                   grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    rcbench::v1::StartRequest req;
    req.set_workload_id(workload_id);
    req.mutable_lease()->set_seconds(lease_ms / 1000);
    req.mutable_lease()->set_nanos(static_cast<int32_t>((lease_ms % 1000) * 1'000'000));
    rcbench::v1::StartResponse resp;
    const grpc::Status s = stub_->Start(&ctx, req, &resp);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  rcbench::v1::StopResponse Stop(const std::string& run_id) {
    grpc::ClientContext ctx;
    rcbench::v1::StopRequest req;
    req.set_run_id(run_id);
    rcbench::v1::StopResponse resp;
    EXPECT_TRUE(stub_->Stop(&ctx, req, &resp).ok());
    return resp;
  }

  TestHttpServer http_;
  LoadgenMetrics metrics_;
  // The service's clock; a derived fixture may point it at fake_clock_ before SetUp.
  rcbench::testing::FakeClock fake_clock_;
  Clock* clock_ = RealClock::Get();
  std::unique_ptr<LoadGenService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<rcbench::v1::LoadGen::Stub> stub_;
};

TEST_F(ServiceTest, ConfigureRefusesATargetOutsideTheAllowList) {
  auto w = Workload(500);
  w.mutable_http_classes(0)->set_target("http://198.51.100.1:80");
  grpc::ClientContext ctx;
  rcbench::v1::ConfigureRequest req;
  *req.mutable_workload() = w;
  rcbench::v1::ConfigureResponse resp;
  const grpc::Status s = stub_->Configure(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("198.51.100.1"), std::string::npos);
}

TEST_F(ServiceTest, ConfigureRefusesADurationAboveTheMaximum) {
  auto w = Workload(500);
  w.mutable_duration()->set_seconds(3600);
  grpc::ClientContext ctx;
  rcbench::v1::ConfigureRequest req;
  *req.mutable_workload() = w;
  rcbench::v1::ConfigureResponse resp;
  EXPECT_EQ(stub_->Configure(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, StreamStatsDeliversConsecutiveReportsEndingWithFinalTotals) {
  const auto started = Start(Configure(Workload(500)), 10'000);
  grpc::ClientContext ctx;
  rcbench::v1::StreamStatsRequest req;
  req.set_run_id(started.run_id());
  auto reader = stub_->StreamStats(&ctx, req);
  rcbench::v1::StatsReport report;
  std::vector<rcbench::v1::StatsReport> reports;
  while (reader->Read(&report)) reports.push_back(report);
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_GE(reports.size(), 2u);
  for (size_t i = 1; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].sequence(), reports[i - 1].sequence() + 1);
  }
  const auto& last = reports.back();
  EXPECT_TRUE(last.final());
  EXPECT_EQ(last.end_reason(), "duration");
  ASSERT_EQ(last.totals_size(), 1);
  EXPECT_EQ(last.totals(0).class_name(), "high");
  EXPECT_GT(last.totals(0).requests_ok(), 0u);
  EXPECT_GT(last.totals(0).latency().total_count(), 0u);
}

TEST_F(ServiceTest, StartWhileRunningIsFailedPrecondition) {
  const std::string id = Configure(Workload(2000));
  const auto first = Start(id, 10'000);
  grpc::Status status;
  Start(id, 10'000, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  Stop(first.run_id());
}

TEST_F(ServiceTest, StopEndsTheRunAndReturnsTotals) {
  const auto started = Start(Configure(Workload(20'000)), 10'000);
  const auto t0 = std::chrono::steady_clock::now();
  const auto stopped = Stop(started.run_id());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(stopped.end_reason(), "stopped");
  ASSERT_EQ(stopped.totals_size(), 1);
}

TEST_F(ServiceTest, ExpiredLeaseStopsTrafficWithinTwoSeconds) {
  const auto started = Start(Configure(Workload(20'000)), 300);
  const auto t0 = std::chrono::steady_clock::now();
  grpc::ClientContext ctx;
  rcbench::v1::StreamStatsRequest req;
  req.set_run_id(started.run_id());
  auto reader = stub_->StreamStats(&ctx, req);
  rcbench::v1::StatsReport report;
  while (reader->Read(&report) && !report.final()) {
  }
  EXPECT_TRUE(report.final());
  EXPECT_EQ(report.end_reason(), "lease-expired");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300 + 2000));
  reader->Finish();
}

// Leases and run durations are read from the service's clock: here a fake one, so that time
// passes without the test waiting for it.
class ServiceOnFakeClockTest : public ServiceTest {
 protected:
  ServiceOnFakeClockTest() { clock_ = &fake_clock_; }
};

TEST_F(ServiceOnFakeClockTest, RenewedLeaseKeepsTheRunGoing) {
  const auto started = Start(Configure(Workload(1000)), 300);
  for (int i = 0; i < 6; ++i) {
    fake_clock_.Advance(std::chrono::milliseconds(100));
    grpc::ClientContext ctx;
    rcbench::v1::RenewLeaseRequest req;
    req.set_lease_id(started.lease_id());
    req.mutable_extend_by()->set_nanos(300'000'000);
    rcbench::v1::RenewLeaseResponse resp;
    ASSERT_TRUE(stub_->RenewLease(&ctx, req, &resp).ok()) << "renewal " << i;
  }
  // 600 ms in, past the original 300 ms lease: still running until its 1 s duration.
  const auto stopped = Stop(started.run_id());
  EXPECT_EQ(stopped.end_reason(), "stopped");
}

TEST_F(ServiceOnFakeClockTest, AnUnrenewedLeaseCannotBeRenewedOnceItRanOut) {
  const auto started = Start(Configure(Workload(1000)), 300);
  fake_clock_.Advance(std::chrono::milliseconds(301));
  grpc::ClientContext ctx;
  rcbench::v1::RenewLeaseRequest req;
  req.set_lease_id(started.lease_id());
  rcbench::v1::RenewLeaseResponse resp;
  EXPECT_FALSE(stub_->RenewLease(&ctx, req, &resp).ok());
}

TEST_F(ServiceTest, UnknownLeaseIsNotFound) {
  grpc::ClientContext ctx;
  rcbench::v1::RenewLeaseRequest req;
  req.set_lease_id("nope");
  rcbench::v1::RenewLeaseResponse resp;
  EXPECT_EQ(stub_->RenewLease(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, MetricsAccumulateTheRunsReports) {
  const auto started = Start(Configure(Workload(300)), 10'000);
  const auto stopped = Stop(started.run_id());
  const auto families = metrics_.Collect();
  double requests = -1;
  for (const auto& f : families) {
    if (f.name == "rcbench_loadgen_requests_total") {
      ASSERT_EQ(f.metric.size(), 1u);
      requests = f.metric[0].counter.value;
    }
  }
  EXPECT_EQ(requests, static_cast<double>(stopped.totals(0).requests_ok()));
}

TEST_F(ServiceTest, ManyConfigureCallsKeepABoundedNumberOfWorkloadsAndMemory) {
  // ~0.5 MB per workload: 256 paths of 2 KB, the most a class may have.
  auto w = Workload(500);
  for (int i = 0; i < kMaxPathsPerClass; ++i) {
    auto* p = w.mutable_http_classes(0)->add_paths();
    p->set_path("/" + std::string(kMaxPathBytes - 1, 'a' + i % 26));
    p->set_weight(1);
  }
  Configure(w);  // warm up gRPC's buffers
  const int64_t before = rcbench::testing::ResidentBytes();
  for (int i = 0; i < 150; ++i) Configure(w);
  [[maybe_unused]] const int64_t grown = rcbench::testing::ResidentBytes() - before;
  EXPECT_EQ(service_->stored_workloads(), LoadGenService::kDefaultMaxStoredWorkloads);
  // Kept unbounded, 150 workloads would hold ~80 MB; the 16 kept hold ~9 MB.
#ifndef RCBENCH_SANITIZED  // AddressSanitizer's quarantine keeps freed memory resident
  EXPECT_LT(grown, int64_t{40} << 20) << "RSS grew by " << (grown >> 20) << " MB";
#endif
}

TEST_F(ServiceTest, StartOfAnEvictedWorkloadIsNotFoundNamingTheId) {
  const std::string oldest = Configure(Workload(300));
  for (size_t i = 0; i < LoadGenService::kDefaultMaxStoredWorkloads; ++i) Configure(Workload(300));
  grpc::Status status;
  Start(oldest, 10'000, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("\"" + oldest + "\""), std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("evicted"), std::string::npos);
}

TEST_F(ServiceTest, EvictionTakesTheOldestWorkloadNeverStarted) {
  const std::string started = Configure(Workload(300));
  Stop(Start(started, 10'000).run_id());
  const std::string first_unstarted = Configure(Workload(300));
  for (size_t i = 1; i < LoadGenService::kDefaultMaxStoredWorkloads; ++i) Configure(Workload(300));
  EXPECT_EQ(service_->stored_workloads(), LoadGenService::kDefaultMaxStoredWorkloads);
  grpc::Status status;
  Start(first_unstarted, 10'000, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  Stop(Start(started, 10'000).run_id());  // still kept
}

TEST(ServiceLimitsTest, MaxStoredWorkloadsIsConfigurable) {
  LoadGenService::Limits limits;
  limits.workload.max_duration_ns = int64_t{60} * 1'000'000'000;
  limits.max_stored_workloads = 2;
  LoadGenService service(AllowList(), limits, RealClock::Get(), nullptr,
                         rcbench::testing::TestAuthorizer());
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  auto stub = rcbench::v1::LoadGen::NewStub(
      rcbench::testing::InProcessChannelWithToken(server.get(), rcbench::testing::kControlToken));
  rcbench::v1::ConfigureRequest req;
  req.mutable_workload()->mutable_duration()->set_seconds(1);
  auto* c = req.mutable_workload()->add_http_classes();
  c->set_name("a");
  c->set_target("http://127.0.0.1:9");
  c->mutable_closed_loop()->set_connections(1);
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext ctx;
    rcbench::v1::ConfigureResponse resp;
    ASSERT_TRUE(stub->Configure(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(service.stored_workloads(), 2u);
  service.Shutdown();
  server->Shutdown();
}

TEST_F(ServiceTest, ConfigureRefusesASocketCountPast32BitsNamingTheFields) {
  auto w = Workload(500);
  auto* m = w.mutable_http_classes(0)->mutable_sclient();
  m->set_clients(65'536);
  m->set_sockets_per_client(65'536);
  grpc::ClientContext ctx;
  rcbench::v1::ConfigureRequest req;
  *req.mutable_workload() = w;
  rcbench::v1::ConfigureResponse resp;
  const grpc::Status s = stub_->Configure(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("clients (65536) x sockets_per_client (65536)"),
            std::string::npos)
      << s.error_message();
}

TEST_F(ServiceTest, EveryMethodRefusesACallWithoutAToken) {
  auto anonymous = rcbench::testing::InProcessChannelWithToken(server_.get(), "");
  auto results = rcbench::testing::CallEachMethod(
      anonymous, rcbench::v1::ConfigureRequest::descriptor()->file()->FindServiceByName("LoadGen"));
  ASSERT_EQ(results.size(), 5u);
  for (const auto& [method, status] : results) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
  }
}

TEST_F(ServiceTest, TheReadRoleCannotConfigureStartOrStopLoad) {
  auto reader =
      rcbench::testing::InProcessChannelWithToken(server_.get(), rcbench::testing::kReadToken);
  auto results = rcbench::testing::CallEachMethod(
      reader, rcbench::v1::ConfigureRequest::descriptor()->file()->FindServiceByName("LoadGen"),
      {"Configure", "Start", "Stop", "RenewLease"});
  ASSERT_EQ(results.size(), 4u);
  for (const auto& [method, status] : results) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method;
  }
}

}  // namespace
}  // namespace rcbench::loadgen
