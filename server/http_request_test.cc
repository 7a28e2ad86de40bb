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
  ASSERT_FALSE(ParseAll("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r));
  EXPECT_FALSE(r.keep_alive);
}

TEST(RequestParserTest, BodyIsCollected) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", &r));
  EXPECT_EQ(r.body, "hello");
}

TEST(RequestParserTest, ChunkedBodyIsCollected) {
  HttpRequest r;
  ASSERT_FALSE(
      ParseAll("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
               "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
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
  EXPECT_EQ(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", &r, 8192, 10),
            http::error::body_limit);
}

TEST(RequestParserTest, ReusedRequestKeepsNoStaleHeaders) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", &r));
  ASSERT_FALSE(ParseAll("GET / HTTP/1.1\r\nHost: a\r\nC: 3\r\n\r\n", &r));
  EXPECT_EQ(r.header_count, 2u);
  EXPECT_TRUE(r.Header("A").empty());
}

// Request smuggling (RFC 9112 §6.3): whenever two parsers could disagree on where a request
// ends, the request is an error, so the connection is closed instead of the rest being read
// as a second request.
TEST(RequestParserTest, UnimplementedTransferCodingIsAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", &r),
            http::error::bad_transfer_encoding);
}

TEST(RequestParserTest, ChunkedThatIsNotTheLastCodingIsAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &r),
            http::error::bad_transfer_encoding);
}

TEST(RequestParserTest, CodingBeforeChunkedIsAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     &r),
            http::error::bad_transfer_encoding);
}

TEST(RequestParserTest, EmptyTransferEncodingIsAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", &r),
            http::error::bad_transfer_encoding);
}

TEST(RequestParserTest, TransferEncodingInHttp10IsAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &r),
            http::error::bad_transfer_encoding);
}

TEST(RequestParserTest, ContentLengthAfterTransferEncodingIsAnError) {
  HttpRequest r;
  auto ec = ParseAll(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", &r);
  EXPECT_TRUE(ec && ec != http::error::need_more) << ec.message();
}

TEST(RequestParserTest, TransferEncodingAfterContentLengthIsAnError) {
  HttpRequest r;
  auto ec = ParseAll(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      &r);
  EXPECT_TRUE(ec && ec != http::error::need_more) << ec.message();
}

TEST(RequestParserTest, InvalidContentLengthIsAnError) {
  for (const char* value : {"abc", "-1", "+3", "3 3", "", "99999999999999999999999"}) {
    HttpRequest r;
    auto ec = ParseAll(
        std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + value + "\r\n\r\nabc", &r);
    EXPECT_EQ(ec, http::error::bad_content_length) << "Content-Length: " << value;
  }
}

TEST(RequestParserTest, ConflictingContentLengthsAreAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
                     "\r\nabcd",
                     &r),
            http::error::bad_content_length);
}

TEST(RequestParserTest, RepeatedEqualContentLengthsAreOneLength) {
  HttpRequest r;
  ASSERT_FALSE(ParseAll(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", &r));
  EXPECT_EQ(r.body, "abc");
}

TEST(RequestParserTest, Http11WithoutHostIsAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("GET / HTTP/1.1\r\n\r\n", &r), http::error::bad_field);
}

TEST(RequestParserTest, TwoHostFieldsAreAnError) {
  HttpRequest r;
  EXPECT_EQ(ParseAll("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &r), http::error::bad_field);
}

TEST(RequestParserTest, Http10WithoutHostIsAccepted) {
  HttpRequest r;
  EXPECT_FALSE(ParseAll("GET / HTTP/1.0\r\n\r\n", &r));
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
