#pragma once

// The test kit's HTTP GET: one blocking HTTP/1.1 request over a real TCP socket (IPv4 or
// IPv6 literal addresses), every step bounded by one deadline so a broken peer fails the test
// instead of hanging it. For scraping /metrics and probing daemons in tests; not a general
// client (no redirects, no TLS, no keep-alive: it sends `Connection: close`). Header-only,
// thread-safe (no shared state).
//
// Errors: InvalidArgument for an address that is not HOST:PORT with a numeric host;
// Unavailable if the connection fails; DeadlineExceeded if the response is not complete in
// time; DataLoss for a malformed response. Each message names the URL.

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rcbench::testing {

struct HttpGetResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
};

namespace http_get_internal {

// Splits a complete response; false if it is malformed.
inline bool Parse(const std::string& raw, HttpGetResponse* r, std::string* why) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    *why = "no end of headers";
    return false;
  }
  const absl::string_view head(raw.data(), end);
  const size_t first_eol = head.find("\r\n");
  const absl::string_view status_line = head.substr(0, first_eol);
  const size_t sp = status_line.find(' ');
  if (status_line.substr(0, 5) != "HTTP/" || sp == absl::string_view::npos ||
      !absl::SimpleAtoi(status_line.substr(sp + 1, 3), &r->status)) {
    *why = absl::StrCat("bad status line \"", status_line, "\"");
    return false;
  }
  for (size_t pos = first_eol; pos != absl::string_view::npos && pos < head.size();) {
    const size_t start = pos + 2;
    const size_t eol = head.find("\r\n", start);
    const absl::string_view line =
        head.substr(start, eol == absl::string_view::npos ? absl::string_view::npos : eol - start);
    const size_t colon = line.find(':');
    if (colon != absl::string_view::npos) {
      r->headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    pos = eol;
  }
  absl::string_view body(raw);
  body.remove_prefix(end + 4);
  auto te = r->headers.find("transfer-encoding");
  if (te != r->headers.end() && absl::AsciiStrToLower(te->second) == "chunked") {
    while (true) {
      const size_t eol = body.find("\r\n");
      absl::string_view size_field = body.substr(0, eol);
      size_field = size_field.substr(0, size_field.find(';'));  // chunk extensions
      size_t n = 0;
      if (eol == absl::string_view::npos || !absl::SimpleHexAtoi(size_field, &n) ||
          body.size() < eol + 2 + n) {
        *why = "truncated chunked body";
        return false;
      }
      if (n == 0) return true;
      r->body.append(body.data() + eol + 2, n);
      body.remove_prefix(std::min(body.size(), eol + 2 + n + 2));
    }
  }
  auto cl = r->headers.find("content-length");
  size_t length = 0;
  if (cl != r->headers.end()) {
    if (!absl::SimpleAtoi(cl->second, &length) || body.size() < length) {
      *why = absl::StrCat("body shorter than Content-Length ", cl->second);
      return false;
    }
    body = body.substr(0, length);
  }
  r->body = std::string(body);
  return true;
}

// True if `raw` has complete headers that frame the body (Content-Length or chunked), so the
// end of the body can be told without waiting for the peer to close.
inline bool Framed(const std::string& raw) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const std::string head = absl::AsciiStrToLower(absl::string_view(raw.data(), end));
  return head.find("\r\ncontent-length:") != std::string::npos ||
         head.find("\r\ntransfer-encoding: chunked") != std::string::npos;
}

}  // namespace http_get_internal

// GETs `path` from `address` ("127.0.0.1:8080", "[::1]:8080"): connects, sends, and reads to
// the end of the response, all within `timeout`. Any status is returned as a response.
inline absl::StatusOr<HttpGetResponse> HttpGet(
    absl::string_view address, absl::string_view path,
    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const std::string url = absl::StrCat("http://", address, path);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remaining_ms = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now())
               .count()));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("GET ", url, ": address is not HOST:PORT"));
  }
  std::string host(address.substr(0, colon));
  const std::string port(address.substr(colon + 1));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &ai); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("GET ", url, ": bad address: ", gai_strerror(rc)));
  }
  const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    freeaddrinfo(ai);
    return absl::InternalError(absl::StrCat("GET ", url, ": socket: ", std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  const int connected = connect(fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  if (connected != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("GET ", url, ": connect: ", std::strerror(errno)));
  }
  auto wait = [&](short events) -> absl::Status {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, remaining_ms());
    if (n == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("GET ", url, ": no complete response within ", timeout.count(), " ms"));
    }
    if (n < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("GET ", url, ": poll: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  };
  if (connected != 0) {
    if (absl::Status s = wait(POLLOUT); !s.ok()) return s;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return absl::UnavailableError(absl::StrCat("GET ", url, ": connect: ", std::strerror(err)));
    }
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", address, "\r\nConnection: close\r\n\r\n");
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (absl::Status s = wait(POLLOUT); !s.ok()) return s;
    } else {
      return absl::UnavailableError(absl::StrCat("GET ", url, ": send: ", std::strerror(errno)));
    }
  }
  std::string raw;
  char buf[16384];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      // Done once a framed response is complete: some servers (civetweb behind
      // prometheus-cpp) close a connection only seconds after the last response.
      HttpGetResponse framed;
      std::string ignored;
      if (http_get_internal::Framed(raw) && http_get_internal::Parse(raw, &framed, &ignored)) {
        return framed;
      }
    } else if (n == 0 || (n < 0 && errno == ECONNRESET && !raw.empty())) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (absl::Status s = wait(POLLIN); !s.ok()) return s;
    } else {
      return absl::UnavailableError(absl::StrCat("GET ", url, ": recv: ", std::strerror(errno)));
    }
  }
  HttpGetResponse r;
  std::string why;
  if (!http_get_internal::Parse(raw, &r, &why)) {
    return absl::DataLossError(
        absl::StrCat("GET ", url, ": malformed response (", why, "): ", raw.substr(0, 200)));
  }
  return r;
}

}  // namespace rcbench::testing
