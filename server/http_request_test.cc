#include "server/http_request.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace rcbench::server {
namespace {

namespace http = boost::beast::http;

boost::beast::error_code ParseAll(absl::string_view text, HttpRequest* req,
                                  uint32_t max_header = 8192, uint64_t max_body = 1 << 20) {
  RequestParser p(req, max_header, max_body);
  boost::beast::error_code ec;
  size_t used = p.put(boost::asio::const_buffer(text.data(), text.size()), ec);
  if (!ec && used != text.size()) ec = http::error::need_more;
  if (!ec && !p.is_done()) ec = http::error::need_more;
  return ec;
}

TEST(RequestParserTest, ParsesRequestLineHostAndHeaders) {
  HttpRequest r;
  auto ec = ParseAll("GET /a?b=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Thing: yes\r\n\r\n", &r);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(r.method, http::verb::get);
  EXPECT_EQ(r.target, "/a?b=1");
  EXPECT_EQ(r.version, 11);
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.Header("x-thing"), "yes");
  EXPECT_TRUE(r.keep_alive);
}

TEST(RequestParserTest, Http10DefaultsToClose) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll("GET / HTTP/1.0\r\n\r\n", &r));
  EXPECT_FALSE(r.keep_alive);
}

TEST(RequestParserTest, ConnectionCloseIsHonoured) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r));
  EXPECT_FALSE(r.keep_alive);
}

TEST(RequestParserTest, BodyIsCollected) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", &r));
  EXPECT_EQ(r.body, "hello");
}

TEST(RequestParserTest, ChunkedBodyIsCollected) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll(
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      &r));
  EXPECT_EQ(r.body, "abcde");
}

TEST(RequestParserTest, GarbageIsAnError) {
  HttpRequest r;
  auto ec = ParseAll("HELLO THERE\r\n\r\n", &r);
  EXPECT_TRUE(ec && ec != http::error::need_more) << ec.message();
}

TEST(RequestParserTest, OversizedHeaderHitsTheHeaderLimit) {
  HttpRequest r;
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n";
  EXPECT_EQ(ParseAll(big, &r, 1024), http::error::header_limit);
}

TEST(RequestParserTest, OversizedBodyHitsTheBodyLimit) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", &r, 8192, 10),
            http::error::body_limit);
}

TEST(RequestParserTest, ReusedRequestKeepsNoStaleHeaders) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", &r));
  ASSERT_FALSE(ParseAll("GET / HTTP/1.1\r\nC: 3\r\n\r\n", &r));
  EXPECT_EQ(r.header_count, 1u);
  EXPECT_TRUE(r.Header("A").empty());
}

TEST(DecodeTargetTest, SplitsPathAndQuery) {
  std::string path;
  absl::string_view query;
  ASSERT_TRUE(DecodeTarget("/cgi-bin/spin?ms=20", &path, &query));
  EXPECT_EQ(path, "/cgi-bin/spin");
  EXPECT_EQ(query, "ms=20");
}

TEST(DecodeTargetTest, DecodesPercentEscapes) {
  std::string path;
  absl::string_view query;
  ASSERT_TRUE(DecodeTarget("/a%20b", &path, &query));
  EXPECT_EQ(path, "/a b");
}

TEST(DecodeTargetTest, RejectsClimbingAboveRoot) {
  std::string path;
  absl::string_view query;
  EXPECT_FALSE(DecodeTarget("/../etc/passwd", &path, &query));
  EXPECT_FALSE(DecodeTarget("/%2e%2e/etc/passwd", &path, &query));
}

TEST(DecodeTargetTest, ResolvesDotSegmentsInside) {
  std::string path;
  absl::string_view query;
  ASSERT_TRUE(DecodeTarget("/a/./b/../c", &path, &query));
  EXPECT_EQ(path, "/a/c");
}

TEST(DecodeTargetTest, RejectsBadEscapesNulAndAbsoluteForm) {
  std::string path;
  absl::string_view query;
  EXPECT_FALSE(DecodeTarget("/a%2", &path, &query));
  EXPECT_FALSE(DecodeTarget("/a%zz", &path, &query));
  EXPECT_FALSE(DecodeTarget("/a%00", &path, &query));
  EXPECT_FALSE(DecodeTarget("http://x/", &path, &query));
}

}  // namespace
}  // namespace rcbench::server
