#include "server/http_request.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace rcbench::server {

namespace http = boost::beast::http;

void HttpRequest::Clear() {
  method = http::verb::unknown;
  method_text.clear();
  target.clear();
  version = 11;
  keep_alive = true;
  host.clear();
  body.clear();
  header_count = 0;
}

absl::string_view HttpRequest::Header(absl::string_view name) const {
  for (size_t i = 0; i < header_count; ++i) {
    if (absl::EqualsIgnoreCase(headers[i].name, name)) return headers[i].value;
  }
  return {};
}

RequestParser::RequestParser(HttpRequest* out, uint32_t max_header_bytes, uint64_t max_body_bytes)
    : out_(out), max_body_bytes_(max_body_bytes) {
  out_->Clear();
  header_limit(max_header_bytes);
  body_limit(max_body_bytes);
  eager(true);
}

void RequestParser::on_request_impl(http::verb method, string_view method_str, string_view target,
                                    int version, error_code& ec) {
  out_->method = method;
  out_->method_text.assign(method_str.data(), method_str.size());
  out_->target.assign(target.data(), target.size());
  out_->version = version;
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = http::error::bad_method;
}

void RequestParser::on_field_impl(http::field name, string_view name_string, string_view value,
                                  error_code& ec) {
  if (name == http::field::content_length) has_content_length_ = true;
  if (name == http::field::transfer_encoding) {
    has_transfer_encoding_ = true;
    // Counted here rather than trusted to Beast, which ignores codings it does not know and so
    // would frame "Transfer-Encoding: gzip" as a body-less request.
    for (absl::string_view coding : absl::StrSplit(absl::string_view(value.data(), value.size()),
                                                   ',', absl::SkipWhitespace())) {
      ++transfer_codings_;
      chunked_last_ = absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(coding), "chunked");
    }
  }
  if (name == http::field::host) {
    ++host_fields_;
    absl::string_view host(value.data(), value.size());
    // Strip the port; keep bracketed IPv6 literals whole.
    size_t colon = host.rfind(':');
    if (colon != absl::string_view::npos && host.find(']') == absl::string_view::npos) {
      host = host.substr(0, colon);
    } else if (!host.empty() && host.front() == '[') {
      size_t close = host.find(']');
      host = host.substr(0, close + 1);
    }
    out_->host.assign(host.data(), host.size());
    absl::AsciiStrToLower(&out_->host);
  }
  if (out_->header_count == out_->headers.size()) out_->headers.emplace_back();
  HttpHeader& h = out_->headers[out_->header_count++];
  h.name.assign(name_string.data(), name_string.size());
  h.value.assign(value.data(), value.size());
}

void RequestParser::on_header_impl(error_code& ec) {
  out_->keep_alive = keep_alive();
  if (out_->version != 10 && out_->version != 11) {
    ec = http::error::bad_version;
  } else if (has_transfer_encoding_ && (has_content_length_ || transfer_codings_ != 1 ||
                                        !chunked_last_ || out_->version == 10)) {
    ec = http::error::bad_transfer_encoding;
  } else if (host_fields_ > 1 || (host_fields_ == 0 && out_->version == 11)) {
    ec = http::error::bad_field;
  }
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code& ec) {
  if (content_length && *content_length > max_body_bytes_) ec = http::error::body_limit;
}

std::size_t RequestParser::on_body_impl(string_view body, error_code& ec) {
  out_->body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t size, string_view extensions,
                                         error_code& ec) {
  if (out_->body.size() + size > max_body_bytes_) ec = http::error::body_limit;
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t remain, string_view body,
                                              error_code& ec) {
  out_->body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_finish_impl(error_code& ec) {}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool DecodeTarget(absl::string_view target, std::string* path, absl::string_view* query) {
  path->clear();
  if (target.empty() || target.front() != '/') return false;
  size_t q = target.find('?');
  absl::string_view raw = target.substr(0, q);
  *query = q == absl::string_view::npos ? absl::string_view() : target.substr(q + 1);
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return false;
      int hi = HexValue(raw[i + 1]);
      int lo = HexValue(raw[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      if (c == '\0') return false;
    }
    path->push_back(c);
  }
  // Resolve "." and ".." segments in place; a ".." above the root is an error.
  if (path->find("/.") == std::string::npos) return true;
  std::string out;
  size_t pos = 0;
  while (pos < path->size()) {
    size_t next = path->find('/', pos + 1);
    if (next == std::string::npos) next = path->size();
    absl::string_view seg(path->data() + pos + 1, next - pos - 1);
    if (seg == ".") {
      if (next == path->size()) out.push_back('/');
    } else if (seg == "..") {
      size_t last = out.rfind('/');
      if (last == std::string::npos) return false;
      out.resize(last);
      if (next == path->size()) out.push_back('/');
    } else {
      out.push_back('/');
      out.append(seg.data(), seg.size());
    }
    pos = next;
  }
  if (out.empty()) out = "/";
  *path = std::move(out);
  return true;
}

}  // namespace rcbench::server
