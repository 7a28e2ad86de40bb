// The rcbench-server binary as the controller drives it: flags, ready file, signals.

#include <gtest/gtest.h>

#include "server/testing/http_client.h"
#include "tests/server_process.h"

namespace rcbench::server {
namespace {

using testing::HttpClient;
using testing::ServerProcess;

TEST(ServerCliTest, HelpExitsZero) {
  ServerProcess p({"--help"});
  EXPECT_EQ(p.Wait(), 0);
}

TEST(ServerCliTest, BadFlagExitsTwoNamingTheFlag) {
  ServerProcess p({"--arch", "fibers"});
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(p.Stderr().find("--arch"), std::string::npos) << p.Stderr();
}

TEST(ServerCliTest, UnbindableListenerExitsNonZeroSayingWhy) {
  ServerProcess p({"--listen", "192.0.2.1:0"});  // TEST-NET address: not on this host
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.Stderr().find("listen on 192.0.2.1:0"), std::string::npos) << p.Stderr();
}

TEST(ServerCliTest, ReadyFileListsEveryListenerAndSigtermStopsCleanly) {
  ServerProcess p({"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--containers",
                   "off", "--log-level", "warning"});
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  EXPECT_EQ(p.value("pid"), std::to_string(p.pid()));
  ASSERT_FALSE(p.value("http").empty());
  ASSERT_FALSE(p.value("metrics").empty());
  auto c = HttpClient::Connect(p.value("http"));
  ASSERT_TRUE(c.ok()) << c.status();
  auto r = c->Get("/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  auto m = HttpClient::Connect(p.value("metrics"));
  ASSERT_TRUE(m.ok()) << m.status();
  auto mr = m->Get("/metrics");
  ASSERT_TRUE(mr.ok()) << mr.status();
  EXPECT_NE(mr->body.find("rcbench_server_requests_total"), std::string::npos);
  EXPECT_EQ(p.Stop(), 0) << p.Stderr();
}

TEST(ServerCliTest, ThreadsArchServesFromTheCli) {
  ServerProcess p({"--arch", "threads", "--threads", "2", "--log-level", "warning"});
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  for (int i = 0; i < 4; ++i) {
    auto c = HttpClient::Connect(p.value("http"));
    ASSERT_TRUE(c.ok());
    auto r = c->Get("/");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(p.Stop(), 0);
}

}  // namespace
}  // namespace rcbench::server
