#include "common/testing/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rcbench::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// A real listener on 127.0.0.1:0 that serves one connection: it reads the request head, then
// writes `response` (unless empty: then it holds the connection open until destroyed).
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) : response_(std::move(response)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    thread_ = std::thread([this] {
      conn_ = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn_ < 0) return;
      char buf[4096];
      while (request_.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(conn_, buf, sizeof(buf));
        if (n <= 0) break;
        request_.append(buf, static_cast<size_t>(n));
      }
      if (response_.empty()) return;
      (void)!write(conn_, response_.data(), response_.size());
      close(conn_);
      conn_ = -1;
    });
  }
  ~OneShotServer() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    if (conn_ >= 0) close(conn_);
    close(fd_);
  }
  const std::string& address() const { return address_; }
  // Valid once the response was received.
  const std::string& request() const { return request_; }

 private:
  const std::string response_;
  int fd_ = -1;
  int conn_ = -1;
  std::string address_;
  std::string request_;
  std::thread thread_;
};

TEST(HttpGetTest, ContentLengthResponseGivesStatusHeadersAndBody) {
  OneShotServer server(
      "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nnope!");
  auto r = HttpGet(server.address(), "/missing?x=1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers["content-type"], "text/plain");
  EXPECT_EQ(r->body, "nope!");
  EXPECT_THAT(server.request(), HasSubstr("GET /missing?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(server.request(), HasSubstr("\r\nHost: " + server.address() + "\r\n"));
}

TEST(HttpGetTest, ChunkedBodyIsReassembled) {
  OneShotServer server(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nmetric\r\na;ext=1\r\n_total 42\n\r\n0\r\n\r\n");
  auto r = HttpGet(server.address(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "metric_total 42\n");
}

TEST(HttpGetTest, BodyUntilCloseWithoutLength) {
  OneShotServer server("HTTP/1.0 200 OK\r\n\r\nall of it");
  auto r = HttpGet(server.address(), "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "all of it");
}

TEST(HttpGetTest, SilentPeerFailsAtTheDeadline) {
  OneShotServer server("");  // accepts, reads, never answers
  const auto t0 = std::chrono::steady_clock::now();
  auto r = HttpGet(server.address(), "/metrics", milliseconds(200));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("http://" + server.address() + "/metrics"));
  EXPECT_THAT(r.status().message(), HasSubstr("within 200 ms"));
}

TEST(HttpGetTest, MalformedResponseIsDataLoss) {
  OneShotServer server("SSH-2.0-OpenSSH\r\n\r\n");
  auto r = HttpGet(server.address(), "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("bad status line"));
}

TEST(HttpGetTest, RefusedConnectionIsUnavailable) {
  // A port that was just free: bind, read it back, close.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  auto r = HttpGet("127.0.0.1:" + std::to_string(ntohs(a.sin_port)), "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpGetTest, AnAddressWithoutAPortIsInvalid) {
  auto r = HttpGet("localhost", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("HOST:PORT"));
}

}  // namespace
}  // namespace rcbench::testing
