#pragma once

// The request side of HTTP/1.1: a parsed request (reused across a connection's requests, so
// the steady state allocates nothing) and a Beast parser that fills it. Thread-compatible.

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rcbench::server {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string method_text;
  std::string target;  // as received: path and query, still percent-encoded
  int version = 11;    // 10 or 11
  bool keep_alive = true;
  std::string host;  // Host header without the port
  std::string body;
  // Headers in arrival order; only the first `header_count` entries are valid (the rest keep
  // their capacity for the next request).
  std::vector<HttpHeader> headers;
  size_t header_count = 0;

  void Clear();
  // The value of header `name` (case-insensitive), or empty.
  absl::string_view Header(absl::string_view name) const;
};

// A Beast parser for one request; construct a new one (cheap, no allocation) per request.
class RequestParser : public boost::beast::http::basic_parser<true> {
 public:
  // `out` must outlive the parser; it is cleared first.
  RequestParser(HttpRequest* out, uint32_t max_header_bytes, uint64_t max_body_bytes);

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb method, string_view method_str, string_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  HttpRequest* out_;
  uint64_t max_body_bytes_;
};

// Splits a request target into its decoded path and its raw query (without '?'). Returns
// false for targets that are not origin-form, contain bad percent-escapes or NULs, or whose
// ".." segments would climb above "/". `path` is reused (its capacity kept).
bool DecodeTarget(absl::string_view target, std::string* path, absl::string_view* query);

}  // namespace rcbench::server
