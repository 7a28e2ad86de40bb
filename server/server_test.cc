// End-to-end tests of the server in this process: real sockets on 127.0.0.1:0. HTTP on a
// connection: static files (cached and from disk), keep-alive, pipelining, HEAD, malformed
// and smuggling requests, limits and timeouts, /healthz and /metrics, --request-cpu, the
// threads architecture. CGI is in server_cgi_test.cc, containers in server_containers_test.cc.
// Every wait is bounded.

#include "server/server.h"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/process_memory.h"
#include "server/testing/http_client.h"
#include "server/testing/running_server.h"
#include "server/testing/server_fixture.h"

namespace rcbench::server {
namespace {

using testing::FindMetric;
using testing::HttpClient;
using testing::HttpResponse;
using testing::MustGet;
using testing::RunningServer;
using testing::ServerTest;

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

TEST_F(ServerTest, ThreadsArchServesManyConnections) {
  RunningServer s({"--arch", "threads", "--threads", "3"});
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 10; ++i) {
    auto c = HttpClient::Connect(s.address());
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(MustGet(*c, "/").status, 200);
  }
}

}  // namespace
}  // namespace rcbench::server
