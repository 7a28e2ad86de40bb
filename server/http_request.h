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
//
// Besides Beast's own checks it rejects, as errors that must end the connection (RFC 9112 §6.3,
// request smuggling), a request whose framing is ambiguous: a Transfer-Encoding other than
// exactly "chunked" (the only coding the server implements), Transfer-Encoding together with
// Content-Length, Transfer-Encoding in HTTP/1.0. Beast itself rejects invalid or conflicting
// Content-Length values. It also rejects an HTTP/1.1 request without a Host header and any
// request with more than one (RFC 9112 §3.2). Errors: http::error::bad_transfer_encoding,
// bad_content_length, bad_field, plus Beast's.
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
  int host_fields_ = 0;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  // Transfer codings over all Transfer-Encoding fields, and whether the last was "chunked".
  int transfer_codings_ = 0;
  bool chunked_last_ = false;
};

// Splits a request target into its decoded path and its raw query (without '?'). Returns
// false for targets that are not origin-form, contain bad percent-escapes or NULs, or whose
// ".." segments would climb above "/". `path` is reused (its capacity kept).
bool DecodeTarget(absl::string_view target, std::string* path, absl::string_view* query);

}  // namespace rcbench::server
