// End-to-end tests of the server's resource containers in this process (a fake
// KernelContainers): classification by source prefix, listener and virtual server, priority
// between classes, CPU charged to classes, per-class kernel containers, the SYN filter. Real
// sockets on 127.0.0.1:0; every wait is bounded.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/testing/wait_for.h"
#include "server/server.h"
#include "server/testing/fake_kernel_containers.h"
#include "server/testing/http_client.h"
#include "server/testing/running_server.h"
#include "server/testing/server_fixture.h"

namespace rcbench::server {
namespace {

namespace fs = std::filesystem;
using testing::FakeKernelContainers;
using testing::FindMetric;
using testing::HttpClient;
using testing::HttpResponse;
using testing::MustGet;
using testing::RunningServer;
using testing::ServerTest;

TEST_F(ServerTest, ConnectionsAreClassifiedBySourcePrefix) {
  RunningServer s({"--containers", "on", "--class", "high=127.0.0.2/32,weight=300"});
  ASSERT_TRUE(s.ok());
  auto high = HttpClient::Connect(s.address(), "127.0.0.2");
  auto other = HttpClient::Connect(s.address(), "127.0.0.3");
  ASSERT_TRUE(high.ok() && other.ok());
  for (int i = 0; i < 3; ++i) MustGet(*high, "/");
  MustGet(*other, "/");
  std::string m = s.Metrics();
  EXPECT_EQ(FindMetric(m,
                       "rcbench_server_requests_total{class=\"high\",code=\"2xx\","
                       "container=\"class/high\"}"),
            3);
  EXPECT_EQ(FindMetric(m, "rcbench_server_connections_accepted_total{class=\"high\"}"), 1);
}

TEST_F(ServerTest, ConnectionsAreClassifiedByListenPort) {
  RunningServer s({"--containers", "on", "--listen-class", "high=127.0.0.1:0"});
  ASSERT_TRUE(s.ok());
  std::string addr = s.address_of("http.high");
  ASSERT_FALSE(addr.empty());
  auto c = HttpClient::Connect(addr);
  ASSERT_TRUE(c.ok());
  MustGet(*c, "/");
  EXPECT_EQ(FindMetric(s.Metrics(),
                       "rcbench_server_requests_total{class=\"high\",code=\"2xx\","
                       "container=\"class/high\"}"),
            1);
}

TEST_F(ServerTest, FavourHighClassifiesWithContainersOffAndChargesNoContainer) {
  RunningServer s({"--favour-high", "--class", "high=127.0.0.2/32,priority=1"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address(), "127.0.0.2");
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(MustGet(*c, "/").status, 200);
  std::string m = s.Metrics();
  EXPECT_EQ(FindMetric(m,
                       "rcbench_server_requests_total{class=\"high\",code=\"2xx\","
                       "container=\"class/high\"}"),
            3);
  EXPECT_EQ(m.find("accounting=\"user\""), std::string::npos);
}

// The paper's new event API: with containers on, a high-priority request that arrives behind a
// batch of expensive low-priority ones is handled after at most about one of them, not after
// the whole batch (20 x 10 ms here).
TEST_F(ServerTest, HighPriorityRequestOvertakesABatchOfExpensiveLowOnes) {
  RunningServer s({"--containers", "on", "--request-cpu", "10ms", "--listen-class",
                   "high=127.0.0.1:0", "--listen-class", "low=127.0.0.1:0", "--class",
                   "high=priority=100", "--class", "low=priority=0"});
  ASSERT_TRUE(s.ok());
  std::vector<HttpClient> low;
  for (int i = 0; i < 20; ++i) {
    auto c = HttpClient::Connect(s.address_of("http.low"));
    ASSERT_TRUE(c.ok()) << c.status();
    low.push_back(std::move(*c));
  }
  for (auto& c : low) ASSERT_TRUE(c.Send("GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n").ok());
  // Let the server start on the low batch, then ask from the high class.
  std::this_thread::sleep_for(std::chrono::milliseconds(15));
  auto high = HttpClient::Connect(s.address_of("http.high"));
  ASSERT_TRUE(high.ok()) << high.status();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(MustGet(*high, "/index.html").status, 200);
  const auto waited = std::chrono::steady_clock::now() - start;
  // One low request in progress plus its own: ~20 ms; the whole batch would be ~200 ms.
  EXPECT_LT(waited, std::chrono::milliseconds(100));
  for (auto& c : low) EXPECT_EQ(c.Read().value_or(HttpResponse{}).status, 200);
}

TEST_F(ServerTest, CpuIsChargedToTheClassThatUsedIt) {
  RunningServer s(
      {"--containers", "on", "--class", "high=127.0.0.2/32", "--class", "low=127.0.0.3/32"});
  ASSERT_TRUE(s.ok());
  auto high = HttpClient::Connect(s.address(), "127.0.0.2");
  ASSERT_TRUE(high.ok());
  for (int i = 0; i < 300; ++i) MustGet(*high, "/");
  // Charges are reconciled on the loop's sweep (at most every 250 ms): poll for them.
  std::optional<double> h, l;
  const absl::Status charged = rcbench::testing::WaitFor(
      [&] {
        std::string m = s.Metrics();
        h = FindMetric(m,
                       "rcbench_server_container_cpu_seconds_total{accounting=\"user\","
                       "container=\"class/high\"}");
        l = FindMetric(m,
                       "rcbench_server_container_cpu_seconds_total{accounting=\"user\","
                       "container=\"class/low\"}");
        return h && *h > 0;
      },
      std::chrono::seconds(5), "CPU charged to class/high", std::chrono::milliseconds(20));
  ASSERT_TRUE(charged.ok()) << charged;
  ASSERT_TRUE(h && l);
  EXPECT_GT(*h, 0);
  EXPECT_EQ(*l, 0);
}

TEST_F(ServerTest, ContainersOnCreatesCgiAndPerClassKernelContainersInThreadsMode) {
  FakeKernelContainers* fake = nullptr;
  RunningServer s({"--containers", "on", "--arch", "threads", "--threads", "2", "--class",
                   "high=127.0.0.2/32,weight=400", "--cgi-cpu-limit", "30%"},
                  &fake);
  ASSERT_TRUE(s.ok());
  ASSERT_NE(fake, nullptr);
  auto c = HttpClient::Connect(s.address(), "127.0.0.2");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MustGet(*c, "/").status, 200);
  auto specs = fake->specs();
  bool cgi = false, high = false;
  for (const auto& sp : specs) {
    if (sp.name == "cgi") cgi = sp.cpu_limit && *sp.cpu_limit == 0.30;
    if (sp.name == "class-high") high = sp.threaded && sp.weight == 400;
  }
  EXPECT_TRUE(cgi);
  EXPECT_TRUE(high);
  // 2 workers per class (high, default), each bound once its thread started.
  EXPECT_TRUE(rcbench::testing::WaitFor([&] { return fake->bound().size() >= 4; },
                                        std::chrono::seconds(5), "4 bound workers")
                  .ok());
  EXPECT_EQ(fake->bound().size(), 4u);
}

TEST_F(ServerTest, VirtualServerIsChosenByHostAndChargedToItsContainer) {
  fs::create_directories(dir_ / "a");
  std::ofstream(dir_ / "a" / "index.html") << "site a";
  RunningServer s({"--containers", "on", "--vhost",
                   absl::StrCat("a.example=", (dir_ / "a").string(), ",share=30")});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("GET / HTTP/1.1\r\nHost: a.example:80\r\n\r\n").ok());
  auto r = c->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "site a");
  EXPECT_EQ(MustGet(*c, "/").body.size(), 1024u);  // Host: test -> the default site
  EXPECT_EQ(FindMetric(s.Metrics(),
                       "rcbench_server_requests_total{class=\"\",code=\"2xx\","
                       "container=\"vhost/a.example\"}"),
            1);
}

TEST_F(ServerTest, SynFilterKeepsFilteredPrefixOut) {
  RunningServer s({"--containers", "on", "--syn-filter", "127.0.0.66/32"});
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(HttpClient::Connect(s.address(), "127.0.0.66", std::chrono::milliseconds(300)).ok());
  auto ok = HttpClient::Connect(s.address(), "127.0.0.67");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(MustGet(*ok, "/").status, 200);
  auto drops = FindMetric(s.Metrics(), "rcbench_server_listen_drops_total{listener=\"http\"}");
  ASSERT_TRUE(drops.has_value());
  EXPECT_GT(*drops, 0);
}

}  // namespace
}  // namespace rcbench::server
