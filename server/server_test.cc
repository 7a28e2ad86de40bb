// End-to-end tests of the server in this process: real sockets on 127.0.0.1:0, real CGI
// children. Every wait is bounded.

#include "server/server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/process_memory.h"
#include "common/testing/wait_for.h"
#include "server/testing/fake_kernel_containers.h"
#include "server/testing/http_client.h"
#include "server/testing/running_server.h"

namespace rcbench::server {
namespace {

namespace fs = std::filesystem;
using testing::FakeKernelContainers;
using testing::FindMetric;
using testing::HttpClient;
using testing::HttpResponse;
using testing::RunningServer;

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("rcbench-srv-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  ~ServerTest() override { fs::remove_all(dir_); }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return absl::StrCat(name, "=", path);
  }
  fs::path dir_;
};

HttpResponse MustGet(HttpClient& c, absl::string_view path, absl::string_view extra = "") {
  auto r = c.Get(path, extra);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : HttpResponse{};
}

TEST_F(ServerTest, ServesTheGenerated1KiBFile) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok()) << c.status();
  HttpResponse r = MustGet(*c, "/index.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 1024u);
  EXPECT_EQ(r.headers["content-type"], "text/html");
  EXPECT_FALSE(r.headers["date"].empty());
}

TEST_F(ServerTest, ServesFilesFromTheDocroot) {
  std::ofstream(dir_ / "hello.txt") << "hello";
  RunningServer s({"--docroot", dir_.string()});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  HttpResponse r = MustGet(*c, "/hello.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(MustGet(*c, "/nope").status, 404);
}

TEST_F(ServerTest, FileOverTheCacheLimitIsServedFromDiskWithBoundedMemory) {
  std::ofstream(dir_ / "small.txt") << "small";
  {
    std::ofstream(dir_ / "big.bin");
    ASSERT_EQ(truncate((dir_ / "big.bin").c_str(), off_t{1} << 30), 0);  // sparse: no disk used
  }
  const int64_t rss_before = rcbench::testing::ResidentBytes();
  RunningServer s({"--docroot", dir_.string()});
  ASSERT_TRUE(s.ok());
  {
    auto c = HttpClient::Connect(s.address());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->Send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    auto r = c->Read(/*head=*/true);  // the head only; the client then hangs up mid-body
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->headers["content-length"], "1073741824");
    EXPECT_EQ(r->headers["content-type"], "application/octet-stream");
  }
  // Whole-file reads would have needed 1 GiB (or ended in std::bad_alloc).
  EXPECT_LT(rcbench::testing::ResidentBytes() - rss_before, int64_t{64} << 20);
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MustGet(*c, "/small.txt").body, "small");
  ASSERT_TRUE(c->Send("HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto head = c->Read(/*head=*/true);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->headers["content-length"], "1073741824");
  EXPECT_EQ(MustGet(*c, "/healthz").status, 200);  // no body bytes after the HEAD response
}

TEST_F(ServerTest, FileServedFromDiskArrivesWholeAndKeepsTheConnection) {
  std::string data;
  for (int i = 0; data.size() < (3u << 20) + 17; ++i) absl::StrAppend(&data, i, ",");
  std::ofstream(dir_ / "data.txt") << data;
  RunningServer s({"--docroot", dir_.string(), "--max-cached-file-size", "1MiB"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  HttpResponse r = MustGet(*c, "/data.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "keep-alive");
  EXPECT_TRUE(r.body == data) << "body of " << r.body.size() << " bytes differs";
  EXPECT_EQ(MustGet(*c, "/healthz").status, 200);
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 50; ++i) {
    HttpResponse r = MustGet(*c, "/");
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.headers["connection"], "keep-alive");
  }
}

TEST_F(ServerTest, ConnectionCloseClosesAfterTheResponse) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  HttpResponse r = MustGet(*c, "/", "Connection: close\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c->WaitForClose(std::chrono::seconds(5)));
}

TEST_F(ServerTest, Http10WithoutKeepAliveIsOneRequestPerConnection) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("GET / HTTP/1.0\r\n\r\n").ok());
  auto r = c->Read();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c->WaitForClose(std::chrono::seconds(5)));
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  std::ofstream(dir_ / "a") << "A";
  std::ofstream(dir_ / "b") << "B";
  RunningServer s({"--docroot", dir_.string()});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto a = c->Read();
  auto b = c->Read();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->body, "A");
  EXPECT_EQ(b->body, "B");
}

TEST_F(ServerTest, HeadSendsHeadersOnly) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto r = c->Read(/*head=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->headers["content-length"], "1024");
  // The next response follows directly: no body bytes in between.
  HttpResponse next = MustGet(*c, "/healthz");
  EXPECT_EQ(next.status, 200);
}

TEST_F(ServerTest, MalformedRequestGets400AndClose) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("THIS IS NOT HTTP\r\n\r\n").ok());
  auto r = c->Read();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c->WaitForClose(std::chrono::seconds(5)));
}

// Sends `request` and expects exactly one response, 400 with Connection: close, then EOF:
// nothing after the bad head is answered as a request of its own.
void ExpectOne400ThenClose(HttpClient& c, absl::string_view request) {
  ASSERT_TRUE(c.Send(request).ok());
  auto r = c.Read();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(5)));
}

TEST_F(ServerTest, UnimplementedTransferEncodingGets400AndCloseNotASmuggledRequest) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ExpectOne400ThenClose(*c,
                        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(
      FindMetric(s.Metrics(), "rcbench_server_connection_errors_total{reason=\"bad_request\"}"), 1);
}

TEST_F(ServerTest, ChunkedThatIsNotTheFinalCodingGets400AndClose) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ExpectOne400ThenClose(*c,
                        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                        "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST_F(ServerTest, ContentLengthWithTransferEncodingGets400AndClose) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ExpectOne400ThenClose(*c,
                        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                        "Content-Length: 0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST_F(ServerTest, ConflictingContentLengthsGet400AndClose) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ExpectOne400ThenClose(*c,
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                        "Content-Length: 40\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST_F(ServerTest, InvalidContentLengthGets400AndClose) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ExpectOne400ThenClose(*c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\nx");
}

TEST_F(ServerTest, Http11WithoutHostGets400AndClose) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ExpectOne400ThenClose(*c, "GET / HTTP/1.1\r\n\r\n");
}

TEST_F(ServerTest, TraversalOutsideTheRootIs400) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MustGet(*c, "/../../etc/passwd").status, 400);
}

TEST_F(ServerTest, OversizedHeadersGet431) {
  RunningServer s({"--max-header-size", "1KiB"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  HttpResponse r = MustGet(*c, "/", absl::StrCat("X-Big: ", std::string(4000, 'a'), "\r\n"));
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(c->WaitForClose(std::chrono::seconds(5)));
}

TEST_F(ServerTest, OversizedBodyGets413) {
  RunningServer s({"--max-body-size", "10"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n").ok());
  auto r = c->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, UnsupportedMethodsAreRefused) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto r = c->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  RunningServer s({"--idle-timeout", "100ms"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MustGet(*c, "/").status, 200);
  EXPECT_TRUE(c->WaitForClose(std::chrono::seconds(3)));
}

TEST_F(ServerTest, SlowRequestGets408) {
  RunningServer s({"--request-timeout", "150ms"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("GET / HTTP/1.1\r\nHost: x\r\n").ok());  // never finished
  auto r = c->Read(false, std::chrono::seconds(3));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 408);
}

TEST_F(ServerTest, HealthzAndMetricsAnswer) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MustGet(*c, "/healthz").body, "ok\n");
  MustGet(*c, "/");
  HttpResponse m = MustGet(*c, "/metrics");
  EXPECT_EQ(m.status, 200);
  auto n = FindMetric(m.body,
                      "rcbench_server_requests_total{class=\"default\",code=\"2xx\","
                      "container=\"class/default\"}");
  ASSERT_TRUE(n.has_value()) << m.body;
  EXPECT_GE(*n, 2);
  EXPECT_NE(m.body.find("rcbench_server_listen_queue_max{listener=\"http\"}"), std::string::npos);
}

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

TEST_F(ServerTest, RequestCpuIsBurnedForEveryStaticResponse) {
  RunningServer s({"--request-cpu", "20ms"});
  ASSERT_TRUE(s.ok());
  auto c = HttpClient::Connect(s.address());
  ASSERT_TRUE(c.ok());
  auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  };
  const double before = cpu();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(MustGet(*c, "/index.html").status, 200);
  EXPECT_GE(cpu() - before, 0.100);
  // /healthz is not a static file: no burn.
  const double mid = cpu();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(MustGet(*c, "/healthz").status, 200);
  EXPECT_LT(cpu() - mid, 0.050);
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

TEST_F(ServerTest, ThreadsArchServesManyConnections) {
  RunningServer s({"--arch", "threads", "--threads", "3"});
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 10; ++i) {
    auto c = HttpClient::Connect(s.address());
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(MustGet(*c, "/").status, 200);
  }
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
