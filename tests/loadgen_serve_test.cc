// The real rcbench-loadgen binary as the controller uses it: `serve` on ephemeral ports with a
// ready file, gRPC health and LoadGen, /metrics, clean exit on SIGTERM; and the one-shot CLI's
// exit codes and --json output.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/rpc_security.h"
#include "common/testing/http_get.h"
#include "common/testing/process.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "loadgen/testing/test_http_server.h"
#include "rcbench/v1/loadgen.grpc.pb.h"
#include "tests/loadgen_netns_util.h"

namespace rcbench::loadgen::testing {
namespace {

class ServeProcess {
 public:
  explicit ServeProcess(const std::string& binary) {
    ready_ = ::testing::TempDir() + "/loadgen_ready_" + std::to_string(getpid());
    std::remove(ready_.c_str());
    token_file_ = ready_ + ".token";
    token_ = *NewToken();
    EXPECT_TRUE(WriteTokenFile(token_file_, token_).ok());
    auto p = rcbench::testing::Process::Start(
        {binary, "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
         "--ready-file", ready_, "--log-level", "warning", "--token-file", token_file_});
    EXPECT_TRUE(p.ok()) << p.status();
    if (p.ok()) process_ = std::move(*p);
  }
  ~ServeProcess() {
    process_.reset();
    std::remove(ready_.c_str());
    std::remove(token_file_.c_str());
  }
  // A channel whose calls carry this process's token.
  std::shared_ptr<grpc::Channel> Channel(const std::string& address) const {
    ClientSecurity security;
    security.token = token_;
    return *MakeRpcChannel(address, security);
  }
  // Waits for the ready file; returns its key=value lines (none if it never came).
  std::map<std::string, std::string> WaitReady() {
    if (process_ == nullptr) return {};
    auto kv = process_->WaitForReadyFile(ready_, std::chrono::seconds(5));
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() ? *kv : std::map<std::string, std::string>{};
  }
  int Terminate() {
    auto code = process_->Stop(std::chrono::seconds(30));
    return code.ok() ? *code : -1;
  }
  pid_t pid() const { return process_->pid(); }

 private:
  std::string ready_;
  std::string token_file_;
  std::string token_;
  std::unique_ptr<rcbench::testing::Process> process_;
};

// The body of GET http://ADDRESS/PATH, or "" (with a test failure) if it failed.
std::string HttpGetBody(const std::string& address, const std::string& path) {
  auto r = rcbench::testing::HttpGet(address, path);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->status, 200) << r->body;
  return r->body;
}

class LoadgenBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = LoadgenBinary();
    if (binary_.empty()) GTEST_SKIP() << "rcbench-loadgen not built (RCBENCH_BIN_DIR)";
  }
  std::string binary_;
};

TEST_F(LoadgenBinaryTest, ServeWritesReadyFileAnswersHealthAndMetricsAndExitsCleanly) {
  ServeProcess serve(binary_);
  auto ready = serve.WaitReady();
  ASSERT_EQ(ready.count("grpc"), 1u) << "no ready file";
  EXPECT_EQ(ready["pid"], std::to_string(serve.pid()));
  ASSERT_EQ(ready.count("metrics"), 1u);

  auto channel = serve.Channel(ready["grpc"]);
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext hctx;
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  ASSERT_TRUE(health->Check(&hctx, hreq, &hresp).ok());
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // The API cannot widen the allow-list.
  auto loadgen = rcbench::v1::LoadGen::NewStub(channel);
  grpc::ClientContext cctx;
  rcbench::v1::ConfigureRequest creq;
  creq.mutable_workload()->mutable_duration()->set_seconds(1);
  auto* c = creq.mutable_workload()->add_http_classes();
  c->set_name("x");
  c->set_target("http://203.0.113.5:80");
  c->mutable_closed_loop()->set_connections(1);
  rcbench::v1::ConfigureResponse cresp;
  EXPECT_EQ(loadgen->Configure(&cctx, creq, &cresp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  const std::string metrics = HttpGetBody(ready["metrics"], "/metrics");
  EXPECT_NE(metrics.find("rcbench_loadgen_run_active 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rcbench_loadgen_syn_packets_sent_total"), std::string::npos);

  EXPECT_EQ(serve.Terminate(), 0);
}

TEST_F(LoadgenBinaryTest, MetricsAfterAGrpcRunPassPromtool) {
  if (RunCommand("promtool --version").exit_code != 0) GTEST_SKIP() << "promtool not installed";
  TestHttpServer http;
  ServeProcess serve(binary_);
  auto ready = serve.WaitReady();
  ASSERT_EQ(ready.count("grpc"), 1u);
  auto loadgen = rcbench::v1::LoadGen::NewStub(serve.Channel(ready["grpc"]));
  rcbench::v1::ConfigureRequest creq;
  auto* w = creq.mutable_workload();
  w->mutable_duration()->set_nanos(300'000'000);
  w->set_threads(1);
  auto* c = w->add_http_classes();
  c->set_name("high");
  c->set_target(http.url());
  c->set_keep_alive(true);
  c->mutable_closed_loop()->set_connections(2);
  rcbench::v1::ConfigureResponse cresp;
  grpc::ClientContext cctx;
  ASSERT_TRUE(loadgen->Configure(&cctx, creq, &cresp).ok());
  rcbench::v1::StartRequest sreq;
  sreq.set_workload_id(cresp.workload_id());
  rcbench::v1::StartResponse sresp;
  grpc::ClientContext sctx;
  ASSERT_TRUE(loadgen->Start(&sctx, sreq, &sresp).ok());
  rcbench::v1::StopRequest stop;
  stop.set_run_id(sresp.run_id());
  rcbench::v1::StopResponse stopped;
  grpc::ClientContext tctx;
  ASSERT_TRUE(loadgen->Stop(&tctx, stop, &stopped).ok());

  const std::string response = HttpGetBody(ready["metrics"], "/metrics");
  ASSERT_FALSE(response.empty());
  const std::string file =
      ::testing::TempDir() + "/loadgen_metrics_" + std::to_string(getpid()) + ".txt";
  std::ofstream(file) << response;
  const auto check = RunCommand("promtool check metrics < " + file);
  std::remove(file.c_str());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(response.find("rcbench_loadgen_requests_total{class=\"high\"}"), std::string::npos)
      << response;
  EXPECT_NE(response.find("rcbench_loadgen_latency_seconds_bucket{class=\"high\",le=\"0.001\"}"),
            std::string::npos);
  EXPECT_EQ(serve.Terminate(), 0);
}

TEST_F(LoadgenBinaryTest, UnknownFlagExitsTwoNamingTheFlag) {
  const auto r = RunCommand(binary_ + " http --bogus http://127.0.0.1:1/");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--bogus"), std::string::npos) << r.output;
}

TEST_F(LoadgenBinaryTest, BadFlagValueExitsTwoSayingWhatWasExpected) {
  const auto r = RunCommand(binary_ + " http -c many http://127.0.0.1:1/");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--connections: expected an integer"), std::string::npos) << r.output;
}

// Issue #14: hostile counts are refused by validation, naming the fields and the limit,
// before anything is allocated or sent (port 1 on loopback: nothing would answer anyway).
TEST_F(LoadgenBinaryTest, SClientSocketProductPast32BitsExitsTwoNamingTheFields) {
  const auto r =
      RunCommand(binary_ + " sclient --clients 65536 --sockets 65536 -d1s http://127.0.0.1:1/");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("clients (65536) x sockets_per_client (65536) = 4294967296"),
            std::string::npos)
      << r.output;
}

TEST_F(LoadgenBinaryTest, AMillionConnectionsExitTwoNamingMaxSockets) {
#ifdef RCBENCH_SANITIZED
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: ulimit -v cannot apply";
#endif
  // 1 GB of address space: the 4.5 GB this used to allocate up front could not happen.
  const auto r = RunCommand("bash -c 'ulimit -v 1048576; exec " + binary_ +
                            " http -t1 -c1000000 -d1s http://127.0.0.1:1/'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("closed_loop.connections: 1000000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--max-sockets"), std::string::npos) << r.output;
}

TEST_F(LoadgenBinaryTest, SocketsBeyondRlimitNofileExitOneNamingTheLimit) {
  const auto r = RunCommand("bash -c 'ulimit -n 256; exec " + binary_ +
                            " http -t1 -c1000 -d1s http://127.0.0.1:1/'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("RLIMIT_NOFILE soft limit is 256"), std::string::npos) << r.output;
}

TEST_F(LoadgenBinaryTest, SpoofPrefixOverlappingLoopbackExitsTwoNamingIt) {
  const auto r =
      RunCommand(binary_ + " syn --target 127.0.0.1:1 --spoof 127.99.0.0/16 --senders 1 -d1s");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("syn_flood.spoof_cidr: 127.99.0.0/16 overlaps the loopback"),
            std::string::npos)
      << r.output;
}

TEST_F(LoadgenBinaryTest, HttpJsonReportsRequestsLatencyErrorsAndCpu) {
  TestHttpServer server;
  const auto r =
      RunCommand(binary_ + " http -t1 -c2 -d300ms --json " + server.url() + "/x 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_GT(j["requests"].get<int>(), 10);
  EXPECT_GT(j["rps"].get<double>(), 0);
  EXPECT_GT(j["latency_us"]["p50"].get<double>(), 0);
  EXPECT_GE(j["latency_us"]["p99_9"].get<double>(), j["latency_us"]["p50"].get<double>());
  EXPECT_EQ(j["errors"]["reset"].get<int>(), 0);
  EXPECT_GT(j["cpu_seconds"].get<double>(), 0);
  EXPECT_EQ(j["end_reason"], "duration");
  EXPECT_GT(server.paths().at("/x"), 10);
}

TEST_F(LoadgenBinaryTest, HttpWithTheIoUringEngineAndBatchingRunsAndSaysSo) {
  TestHttpServer server;
  const std::string cmd =
      binary_ + " http -t1 -c8 -d300ms --io io_uring --io-batch 4 --json " + server.url() + "/x";
  const auto r = RunCommand(cmd + " 2>/dev/null");
  if (r.exit_code != 0) {
    const auto why = RunCommand(cmd);  // again, with the error text
    if (why.output.find("io_uring is unavailable") != std::string::npos) GTEST_SKIP() << why.output;
  }
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_GT(j["requests"].get<int>(), 10);
  EXPECT_EQ(j["errors"]["reset"].get<int>(), 0);
  EXPECT_EQ(j["io_engine"], "io_uring");
  EXPECT_EQ(j["io_batch"].get<int>(), 4);
  EXPECT_EQ(j["end_reason"], "duration");
}

TEST_F(LoadgenBinaryTest, BatchingWithoutIoUringExitsTwoNamingTheSetting) {
  const auto r = RunCommand(binary_ + " http --io-batch 8 -d1s http://127.0.0.1:1/");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("io_batch"), std::string::npos) << r.output;
  const auto bad = RunCommand(binary_ + " http --io kqueue -d1s http://127.0.0.1:1/");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--io: \"kqueue\""), std::string::npos) << bad.output;
}

TEST_F(LoadgenBinaryTest, SigtermEndsAOneShotRunEarlyWithItsResults) {
  TestHttpServer server;
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = RunCommand("(" + binary_ + " http -t1 -c1 -d30s --json " + server.url() +
                            " 2>/dev/null & p=$!; sleep 0.5; kill -TERM $p; wait $p)");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"end_reason\":\"interrupted\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rcbench::loadgen::testing
