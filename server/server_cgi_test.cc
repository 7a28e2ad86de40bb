// End-to-end tests of the server's CGI in this process: real sockets on 127.0.0.1:0, real
// CGI children (scripts and rcbench-cgi-spin). Every wait is bounded.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/testing/wait_for.h"
#include "server/server.h"
#include "server/testing/http_client.h"
#include "server/testing/running_server.h"
#include "server/testing/server_fixture.h"

namespace rcbench::server {
namespace {

namespace fs = std::filesystem;
using testing::FindMetric;
using testing::HttpClient;
using testing::HttpResponse;
using testing::MustGet;
using testing::RunningServer;
using testing::ServerTest;

TEST_F(ServerTest, CgiGetsTheRfc3875Environment) {
  RunningServer s({"--cgi", Script("env", "printf 'Content-Type: text/plain\\r\\n\\r\\n'; env")});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  HttpResponse r = MustGet(*c, "/cgi-bin/env/x/y?q=1", "X-Test: yes\r\n");
  EXPECT_EQ(r.status, 200);
  for (const char* want :
       {"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SCRIPT_NAME=/cgi-bin/env",
        "PATH_INFO=/x/y", "QUERY_STRING=q=1", "REMOTE_ADDR=127.0.0.1", "SERVER_PROTOCOL=HTTP/1.1",
        "HTTP_X_TEST=yes", "SERVER_NAME=test"}) {
    EXPECT_NE(r.body.find(want), std::string::npos) << want << "\n" << r.body;
  }
}

TEST_F(ServerTest, ProxyHeaderDoesNotReachCgiAsHttpProxy) {
  RunningServer s({"--cgi", Script("env", "printf 'Content-Type: text/plain\\r\\n\\r\\n'; env")});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  HttpResponse r = MustGet(*c, "/cgi-bin/env", "Proxy: http://127.0.0.1:9/\r\nX-Test: yes\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("HTTP_X_TEST=yes"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("HTTP_PROXY="), std::string::npos) << r.body;
}

TEST_F(ServerTest, CgiPostBodyReachesStdinAndStatusIsPassedOn) {
  RunningServer s(
      {"--cgi",
       Script("echo", "printf 'Status: 201 Created\\nContent-Type: text/plain\\n\\n'; cat")});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c->Send("POST /cgi-bin/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").ok());
  auto r = c->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(ServerTest, FailingCgiGives502AndTheServerCarriesOn) {
  RunningServer s({"--cgi", Script("bad", "exit 1"), "--cgi", Script("junk", "echo garbage")});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MustGet(*c, "/cgi-bin/bad").status, 502);
  EXPECT_EQ(MustGet(*c, "/cgi-bin/junk").status, 502);
  EXPECT_EQ(MustGet(*c, "/").status, 200);
  auto failed = FindMetric(s.Metrics(), "rcbench_server_cgi_total{outcome=\"failed\"}");
  EXPECT_EQ(failed, 2);
}

TEST_F(ServerTest, OverrunningCgiGives504) {
  RunningServer s({"--cgi", Script("slow", "exec sleep 30"), "--cgi-timeout", "200ms"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MustGet(*c, "/cgi-bin/slow").status, 504);
  EXPECT_EQ(MustGet(*c, "/").status, 200);
}

// Children of this process (the in-process server's CGI children) whose command starts with
// `comm`, zombies included.
int ChildrenNamed(absl::string_view comm) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid == getpid() && absl::StartsWith(stat.substr(open + 1, close - open - 1), comm)) ++n;
  }
  return n;
}

// Polls the server's metric `series` until it equals `want` or 5 s pass.
absl::Status WaitForMetric(RunningServer& s, absl::string_view series, double want) {
  return rcbench::testing::WaitFor([&] { return FindMetric(s.Metrics(), series) == want; },
                                   std::chrono::seconds(5), absl::StrCat(series, " == ", want),
                                   std::chrono::milliseconds(20));
}

TEST_F(ServerTest, CgiChildIsStoppedAndReapedWhenItsClientGoesAway) {
  RunningServer s({"--cgi-timeout", "60s"});
  ASSERT_TRUE(s.ok());
  {
    auto c = HttpClient::Connect(s.address());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->Send("GET /cgi-bin/spin?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    ASSERT_TRUE(WaitForMetric(s, "rcbench_server_cgi_children", 1).ok());
  }  // the client disconnects
  EXPECT_TRUE(WaitForMetric(s, "rcbench_server_cgi_children", 0).ok());
  EXPECT_EQ(ChildrenNamed("rcbench-cgi"), 0);  // not running, and no zombie either
  EXPECT_EQ(FindMetric(s.Metrics(), "rcbench_server_cgi_total{outcome=\"abandoned\"}"), 1);
}

TEST_F(ServerTest, CgiChildIgnoringSigtermIsKilledAfterTheGrace) {
  RunningServer s({"--cgi", Script("stubborn", "trap '' TERM; while :; do :; done")});
  ASSERT_TRUE(s.ok());
  {
    auto c = HttpClient::Connect(s.address());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->Send("GET /cgi-bin/stubborn HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    ASSERT_TRUE(WaitForMetric(s, "rcbench_server_cgi_children", 1).ok());
  }
  EXPECT_TRUE(WaitForMetric(s, "rcbench_server_cgi_children", 0).ok());
}

TEST_F(ServerTest, PipelinedRequestBehindACgiRequestIsStillAnswered) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("GET /cgi-bin/spin?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // arrives while the CGI runs
  ASSERT_TRUE(c->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto cgi = c->Read();
  ASSERT_TRUE(cgi.ok()) << cgi.status();
  EXPECT_EQ(cgi->status, 200);
  auto next = c->Read();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->body, "ok\n");
}

TEST_F(ServerTest, CgiPastTheChildLimitGets503WithRetryAfterAndClose) {
  RunningServer s({"--max-cgi-children", "2"});
  ASSERT_TRUE(s.ok());
  std::vector<HttpClient> busy;
  for (int i = 0; i < 2; ++i) {
    auto c = HttpClient::Connect(s.address());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->Send("GET /cgi-bin/spin?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    busy.push_back(std::move(*c));
  }
  ASSERT_TRUE(WaitForMetric(s, "rcbench_server_cgi_children", 2).ok());
  auto third = HttpClient::Connect(s.address());
  ASSERT_TRUE(third.ok());
  HttpResponse r = MustGet(*third, "/cgi-bin/spin?ms=1");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(third->WaitForClose(std::chrono::seconds(5)));
  EXPECT_EQ(FindMetric(s.Metrics(), "rcbench_server_cgi_total{outcome=\"refused\"}"), 1);
  busy.clear();  // their children are stopped, which frees the slots
  ASSERT_TRUE(WaitForMetric(s, "rcbench_server_cgi_children", 0).ok());
  auto again = HttpClient::Connect(s.address());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(MustGet(*again, "/cgi-bin/spin?ms=1").status, 200);
}

TEST_F(ServerTest, StaticRequestsAreServedWhileCgiRuns) {
  RunningServer s({"--cgi", Script("slow", "sleep 1; printf 'Content-Type: text/plain\\n\\nok'")});
  ASSERT_TRUE(s.ok());
  auto slow = HttpClient::Connect(s.address());
  auto fast = HttpClient::Connect(s.address());
  ASSERT_TRUE(slow.ok() && fast.ok());
  ASSERT_TRUE(slow->Send("GET /cgi-bin/slow HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(MustGet(*fast, "/").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  auto r = slow->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "ok");
}

TEST_F(ServerTest, BundledSpinBurnsTheRequestedCpu) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  HttpResponse r = MustGet(*c, "/cgi-bin/spin?ms=50");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("burned 5"), std::string::npos) << r.body;
  EXPECT_EQ(MustGet(*c, "/cgi-bin/spin?ms=x").status, 400);
}

}  // namespace
}  // namespace rcbench::server
