// Engine tests against real loopback sockets: each runs a short bounded load (well under a
// second) against an in-process server, and asserts on counts.

#include "loadgen/http_worker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/clock.h"
#include "loadgen/load_run.h"
#include "loadgen/testing/test_http_server.h"
#include "loadgen/workload.h"

namespace rcbench::loadgen {
namespace {

using testing::TestHttpServer;

void SetMs(int64_t ms, google::protobuf::Duration* d) {
  d->set_seconds(ms / 1000);
  d->set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
}

rcbench::v1::Workload OneClass(const std::string& target, int64_t duration_ms) {
  rcbench::v1::Workload w;
  SetMs(duration_ms, w.mutable_duration());
  w.set_threads(1);
  auto* c = w.add_http_classes();
  c->set_name("c");
  c->set_target(target);
  return w;
}

// The socket engine every test runs with (the suite runs once per engine).
struct EngineParam {
  const char* name;
  rcbench::v1::IoEngine engine;
  uint32_t batch;
};
EngineParam g_engine{"epoll", rcbench::v1::IO_ENGINE_EPOLL, 0};

void PrintTo(const EngineParam& p, std::ostream* os) { *os << p.name; }

class HttpEngineTest : public ::testing::TestWithParam<EngineParam> {
 protected:
  void SetUp() override {
    g_engine = GetParam();
    if (g_engine.engine == rcbench::v1::IO_ENGINE_IO_URING) {
      const absl::Status st = IoUringSupport();
      if (!st.ok()) GTEST_SKIP() << st.message();
    }
  }
};

// Runs the workload to its bound and returns the totals of every class.
std::vector<ClassCounters> RunToEnd(rcbench::v1::Workload w) {
  w.set_io_engine(g_engine.engine);
  w.set_io_batch(g_engine.batch);
  auto spec = ValidateWorkload(w, AllowList(), int64_t{60} * 1'000'000'000);
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto run = LoadRun::Start(*std::move(spec), "test", RealClock::Get());
  EXPECT_TRUE(run.ok()) << run.status();
  (*run)->Wait();
  std::vector<ClassCounters> out;
  for (const auto& t : (*run)->Totals()) out.push_back(*ClassCounters::FromProto(t));
  return out;
}

// A listener that never accepts, with its accept queue already full: the kernel drops every
// further SYN, so only the S-Client's own timeout can end a connection attempt.
class FullBacklogListener {
 public:
  FullBacklogListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    // Backlog 0 holds one connection; fill it.
    filler_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(filler_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  ~FullBacklogListener() {
    close(filler_);
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int filler_ = -1;
  uint16_t port_ = 0;
};

TEST_P(HttpEngineTest, SClientRestartsTimedOutConnectsWithoutTcpBackoff) {
  FullBacklogListener listener;
  auto w = OneClass(listener.url(), 800);
  auto* m = w.mutable_http_classes(0)->mutable_sclient();
  m->set_clients(2);
  m->set_sockets_per_client(4);
  SetMs(100, m->mutable_connect_timeout());
  const auto totals = RunToEnd(w);
  // 8 sockets x 800 ms / 100 ms = 64 timeouts if every attempt restarts at once; with TCP's
  // SYN back-off (1 s, then 3 s) there would be none at all in 800 ms.
  EXPECT_GE(totals[0].errors[kConnectTimeout], 48u);
  EXPECT_LE(totals[0].errors[kConnectTimeout], 72u);
  EXPECT_GE(totals[0].connects_attempted, totals[0].errors[kConnectTimeout]);
  EXPECT_EQ(totals[0].connects_established, 0u);
}

TEST_P(HttpEngineTest, SClientCompletesRequestsPerConnection) {
  TestHttpServer server;
  auto w = OneClass(server.url(), 200);
  auto* m = w.mutable_http_classes(0)->mutable_sclient();
  m->set_clients(1);
  m->set_sockets_per_client(2);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].requests_ok, 10u);
  // One request per connection: every completed request had its own connect.
  EXPECT_GE(totals[0].connects_established, totals[0].requests_ok);
  EXPECT_EQ(totals[0].TotalErrors() - totals[0].errors[kReset], 0u);
}

TEST_P(HttpEngineTest, OpenLoopLatencyIncludesQueueingWhileTheServerStalls) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](const std::string&) {
    if (calls++ == 20) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return TestHttpServer::Ok();
  });
  auto w = OneClass(server.url(), 1000);
  auto* c = w.mutable_http_classes(0);
  c->set_keep_alive(true);
  c->mutable_open_loop()->set_rate_rps(200);
  c->mutable_open_loop()->set_max_connections(1);
  const auto totals = RunToEnd(w);
  const auto& k = totals[0];
  ASSERT_GT(k.requests_ok, 150u);
  // About 60 requests arrive during the 300 ms stall and wait behind it: from their intended
  // send time they took up to 300 ms, though each was answered at once after being sent.
  EXPECT_GE(k.latency.ValueAtPercentile(90), 30'000'000u);
  EXPECT_GE(k.latency.max_ns(), 250'000'000u);
  EXPECT_LT(k.latency_uncorrected.ValueAtPercentile(90), 30'000'000u);
  EXPECT_GE(k.latency_uncorrected.max_ns(), 250'000'000u);
}

TEST_P(HttpEngineTest, OpenLoopConstantRateSendsTheScheduledCount) {
  TestHttpServer server;
  auto w = OneClass(server.url(), 500);
  auto* c = w.mutable_http_classes(0);
  c->set_keep_alive(true);
  c->mutable_open_loop()->set_rate_rps(2000);
  c->mutable_open_loop()->set_max_connections(16);
  const auto totals = RunToEnd(w);
  // 2000/s over a 500 ms window is 1000 scheduled requests; allow 3% for the window's end
  // (arrivals due while the loop is descheduled at the very end are not sent after it).
  EXPECT_NEAR(static_cast<double>(totals[0].requests_sent), 1000.0, 30.0);
  EXPECT_EQ(totals[0].errors[kLocal], 0u);
}

TEST_P(HttpEngineTest, OpenLoopPoissonRateAveragesTheTarget) {
  TestHttpServer server;
  auto w = OneClass(server.url(), 500);
  auto* c = w.mutable_http_classes(0);
  c->set_keep_alive(true);
  c->mutable_open_loop()->set_rate_rps(4000);
  c->mutable_open_loop()->set_arrival(rcbench::v1::OpenLoopMode::ARRIVAL_POISSON);
  c->mutable_open_loop()->set_max_connections(16);
  const auto totals = RunToEnd(w);
  // 2000 expected arrivals; Poisson's standard deviation is ~45, so +-8% is beyond 3 sigma.
  EXPECT_NEAR(static_cast<double>(totals[0].requests_sent), 2000.0, 160.0);
}

TEST_P(HttpEngineTest, ClosedLoopKeepAliveReusesConnections) {
  TestHttpServer server;
  auto w = OneClass(server.url(), 200);
  auto* c = w.mutable_http_classes(0);
  c->set_keep_alive(true);
  c->mutable_closed_loop()->set_connections(4);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].requests_ok, 100u);
  EXPECT_EQ(totals[0].connects_attempted, 4u);
  EXPECT_EQ(totals[0].bytes_received % TestHttpServer::Ok().size(), 0u);
  EXPECT_EQ(totals[0].latency.total_count(), totals[0].requests_ok);
}

TEST_P(HttpEngineTest, KeepAliveReconnectsWhenTheServerSaysConnectionClose) {
  TestHttpServer server([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
  });
  auto w = OneClass(server.url(), 150);
  w.mutable_http_classes(0)->set_keep_alive(true);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].requests_ok, 10u);
  EXPECT_GE(totals[0].connects_attempted, totals[0].requests_ok);
  EXPECT_EQ(totals[0].errors[kReset], 0u);
}

TEST_P(HttpEngineTest, Http10ResponsesWithContentLengthParse) {
  // Python's http.server answers like this, header and body in separate segments; Beast 1.74
  // refused it with body_limit = none.
  TestHttpServer server([](const std::string&) {
    return std::string(
        "HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nDate: Mon, 23 Nov 2026 "
        "02:12:17 GMT\r\nContent-type: text/html\r\nContent-Length: 6\r\nLast-Modified: Mon, 23 "
        "Nov 2026 02:08:04 GMT\r\n\r\n" +
        TestHttpServer::kSplit + "hello\n");
  });
  auto w = OneClass(server.url(), 150);
  w.mutable_http_classes(0)->set_keep_alive(true);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].requests_ok, 10u);
  EXPECT_EQ(totals[0].errors[kParseError], 0u);
}

TEST_P(HttpEngineTest, ChunkedResponsesParse) {
  TestHttpServer server([](const std::string&) {
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" +
           TestHttpServer::kSplit + "6\r\n world\r\n0\r\n\r\n";
  });
  auto w = OneClass(server.url(), 150);
  w.mutable_http_classes(0)->set_keep_alive(true);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].requests_ok, 10u);
  EXPECT_EQ(totals[0].TotalErrors(), 0u);
  EXPECT_EQ(totals[0].connects_attempted, 1u);
}

TEST_P(HttpEngineTest, BodyDelimitedByTheConnectionsEndParses) {
  // No Content-Length: the body ends when the server closes.
  TestHttpServer server([](const std::string&) {
    return "HTTP/1.0 200 OK\r\n\r\n" + TestHttpServer::kSplit + "body until close";
  });
  auto w = OneClass(server.url(), 150);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].requests_ok, 10u);
  EXPECT_EQ(
      totals[0].errors[kParseError] + totals[0].errors[kReset] + totals[0].errors[kResponseTimeout],
      0u);
}

TEST_P(HttpEngineTest, NonSuccessStatusIsCountedAsNon2xx) {
  TestHttpServer server([](const std::string&) { return TestHttpServer::Ok(4, 404); });
  auto w = OneClass(server.url(), 150);
  w.mutable_http_classes(0)->set_keep_alive(true);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(2);
  const auto totals = RunToEnd(w);
  EXPECT_EQ(totals[0].requests_ok, 0u);
  EXPECT_GT(totals[0].errors[kNon2xx], 10u);
}

TEST_P(HttpEngineTest, GarbageResponseIsCountedAsParseError) {
  TestHttpServer server([](const std::string&) { return std::string("NOT HTTP AT ALL\r\n\r\n"); });
  auto w = OneClass(server.url(), 150);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].errors[kParseError], 0u);
  EXPECT_EQ(totals[0].requests_ok, 0u);
}

TEST_P(HttpEngineTest, ServerClosingBeforeAnsweringIsCountedAsReset) {
  TestHttpServer server([](const std::string&) { return std::string(); });
  auto w = OneClass(server.url(), 150);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].errors[kReset], 0u);
  EXPECT_EQ(totals[0].requests_ok, 0u);
}

TEST_P(HttpEngineTest, ClosedPortIsCountedAsConnectRefused) {
  // Bind a port and close it again, so nothing listens there.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  auto w = OneClass("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)), 100);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].errors[kConnectRefused], 0u);
  EXPECT_EQ(totals[0].connects_established, 0u);
}

TEST_P(HttpEngineTest, ResponseTimeoutEndsAStalledRequest) {
  TestHttpServer server([](const std::string&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    return TestHttpServer::Ok();
  });
  auto w = OneClass(server.url(), 300);
  auto* c = w.mutable_http_classes(0);
  c->mutable_closed_loop()->set_connections(1);
  SetMs(100, c->mutable_response_timeout());
  const auto totals = RunToEnd(w);
  EXPECT_GE(totals[0].errors[kResponseTimeout], 1u);
  EXPECT_EQ(totals[0].requests_ok, 0u);
}

TEST_P(HttpEngineTest, RequestMixFollowsTheWeights) {
  TestHttpServer server;
  auto w = OneClass(server.url(), 300);
  auto* c = w.mutable_http_classes(0);
  c->set_keep_alive(true);
  c->mutable_closed_loop()->set_connections(2);
  auto* a = c->add_paths();
  a->set_path("/static");
  a->set_weight(3);
  auto* b = c->add_paths();
  b->set_path("/cgi?ms=1");
  b->set_weight(1);
  RunToEnd(w);
  const auto paths = server.paths();
  ASSERT_EQ(paths.size(), 2u);
  const double ratio = static_cast<double>(paths.at("/static")) / paths.at("/cgi?ms=1");
  EXPECT_GT(paths.at("/static") + paths.at("/cgi?ms=1"), 200);
  EXPECT_NEAR(ratio, 3.0, 0.6);
}

TEST_P(HttpEngineTest, SourceAddressesAreUsedRoundRobin) {
  TestHttpServer server;
  auto w = OneClass(server.url(), 150);
  auto* c = w.mutable_http_classes(0);
  c->mutable_closed_loop()->set_connections(2);
  c->add_source_addresses("127.0.0.2");
  c->add_source_addresses("127.0.0.3");
  c->set_linger_zero(true);
  RunToEnd(w);
  const auto peers = server.peers();
  EXPECT_EQ(peers.count("127.0.0.1"), 0u);
  ASSERT_EQ(peers.count("127.0.0.2"), 1u);
  ASSERT_EQ(peers.count("127.0.0.3"), 1u);
  EXPECT_NEAR(peers.at("127.0.0.2"), peers.at("127.0.0.3"), 2);
}

TEST_P(HttpEngineTest, ClassesAreCountedSeparately) {
  TestHttpServer server;
  auto w = OneClass(server.url(), 150);
  w.set_threads(2);
  w.mutable_http_classes(0)->set_keep_alive(true);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(2);
  auto* low = w.add_http_classes();
  low->set_name("low");
  low->set_target(server.url());
  low->mutable_open_loop()->set_rate_rps(100);
  const auto totals = RunToEnd(w);
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_GT(totals[0].requests_ok, totals[1].requests_ok);
  EXPECT_NEAR(static_cast<double>(totals[1].requests_sent), 15.0, 2.0);
}

TEST(HttpPlanTest, PlanSplitsSocketsAndRateOverWorkers) {
  RunSpec spec;
  ClassSpec c;
  c.mode = Mode::kOpenLoop;
  c.rate_rps = 900;
  c.max_connections = 10;
  spec.classes.push_back(c);
  const auto plans = PlanWorkers(spec, 3);
  ASSERT_EQ(plans.size(), 3u);
  uint32_t sockets = 0;
  double rate = 0;
  for (const auto& p : plans) {
    ASSERT_EQ(p.size(), 1u);
    sockets += p[0].sockets;
    rate += p[0].rate_rps;
  }
  EXPECT_EQ(sockets, 10u);
  EXPECT_DOUBLE_EQ(rate, 900.0);
}

// The paper's high-priority client must not wait behind low-priority events in the generator:
// a class with threads of its own shares no worker with the pooled classes.
TEST(HttpPlanTest, ClassWithItsOwnThreadsSharesNoWorker) {
  RunSpec spec;
  ClassSpec low;
  low.mode = Mode::kSClient;
  low.clients = 4;
  low.sockets_per_client = 2;
  ClassSpec high;
  high.mode = Mode::kClosedLoop;
  high.connections = 1;
  high.threads = 1;
  ClassSpec idle;
  idle.mode = Mode::kSClient;
  idle.clients = 0;
  idle.sockets_per_client = 4;
  spec.classes = {low, high, idle};
  const auto plans = PlanWorkers(spec, 2);
  ASSERT_EQ(plans.size(), 3u);
  for (size_t w = 0; w < 2; ++w) {
    ASSERT_EQ(plans[w].size(), 1u) << w;
    EXPECT_EQ(plans[w][0].class_index, 0u);
    EXPECT_EQ(plans[w][0].sockets, 4u);
  }
  ASSERT_EQ(plans[2].size(), 1u);
  EXPECT_EQ(plans[2][0].class_index, 1u);
  EXPECT_EQ(plans[2][0].sockets, 1u);
}

// Large responses arrive in many receive buffers at once; with io_uring the shared buffer
// ring runs dry and receives stop (ENOBUFS) until buffers come back, then resume.
TEST_P(HttpEngineTest, LargeResponsesOnManyConnectionsAllArrive) {
  TestHttpServer server([](const std::string&) { return TestHttpServer::Ok(1 << 20); });
  auto w = OneClass(server.url(), 400);
  w.mutable_http_classes(0)->set_keep_alive(true);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(16);
  const auto totals = RunToEnd(w);
  EXPECT_GT(totals[0].requests_ok, 16u);
  EXPECT_EQ(totals[0].TotalErrors(), 0u);
  EXPECT_GE(totals[0].bytes_received, totals[0].requests_ok * (1u << 20));
}

TEST(HttpEngineBatchTest, BatchIsCappedAtHalfTheSockets) {
  if (!IoUringSupport().ok()) GTEST_SKIP() << IoUringSupport().message();
  TestHttpServer server;
  auto w = OneClass(server.url(), 300);
  w.mutable_http_classes(0)->set_keep_alive(true);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(4);
  w.set_io_engine(rcbench::v1::IO_ENGINE_IO_URING);
  w.set_io_batch(64);
  w.mutable_io_batch_wait()->set_nanos(10'000'000);
  auto spec = ValidateWorkload(w, AllowList(), int64_t{60} * 1'000'000'000);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto run = LoadRun::Start(*std::move(spec), "test", RealClock::Get());
  ASSERT_TRUE(run.ok()) << run.status();
  (*run)->Wait();
  const auto totals = (*run)->Totals();
  // Waiting for 64 completions with 4 sockets would end every wait at its 10 ms bound: at
  // most ~30 turns of 4 requests. Capped at 2 completions, the loop is never held up.
  EXPECT_GT(totals[0].requests_ok(), 1000u);
}

INSTANTIATE_TEST_SUITE_P(
    Engines, HttpEngineTest,
    ::testing::Values(EngineParam{"epoll", rcbench::v1::IO_ENGINE_EPOLL, 0},
                      EngineParam{"io_uring", rcbench::v1::IO_ENGINE_IO_URING, 0},
                      EngineParam{"io_uring_batch16", rcbench::v1::IO_ENGINE_IO_URING, 16}),
    [](const ::testing::TestParamInfo<EngineParam>& info) { return info.param.name; });

}  // namespace
}  // namespace rcbench::loadgen
