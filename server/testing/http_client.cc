#include "server/testing/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/flags.h"
#include "common/status_macros.h"

namespace rcbench::server::testing {

absl::StatusOr<HttpClient> HttpClient::Connect(absl::string_view address, absl::string_view from,
                                               std::chrono::milliseconds timeout) {
  RCBENCH_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(address));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(hp.port);
  if (inet_pton(AF_INET, hp.host.c_str(), &sa.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not IPv4: ", hp.host));
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError("socket");
  HttpClient c(fd);
  if (!from.empty()) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, std::string(from).c_str(), &src.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
      return absl::InternalError(absl::StrCat("bind ", from, ": ", std::strerror(errno)));
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    return absl::DeadlineExceededError(absl::StrCat("connect to ", address, " timed out"));
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(err)));
  return c;
}

HttpClient::HttpClient(HttpClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)), eof_(o.eof_) {}

HttpClient& HttpClient::operator=(HttpClient&& o) noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = std::exchange(o.fd_, -1);
  buf_ = std::move(o.buf_);
  eof_ = o.eof_;
  return *this;
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) close(fd_);
}

absl::Status HttpClient::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, 5000) != 1) return absl::DeadlineExceededError("send timed out");
      continue;
    }
    if (n < 0) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status HttpClient::Fill(std::chrono::milliseconds timeout) {
  if (eof_) return absl::OutOfRangeError("connection closed");
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    return absl::DeadlineExceededError("no data before the timeout");
  }
  char tmp[65536];
  ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
  if (n <= 0) {
    eof_ = true;
    return absl::OutOfRangeError(n == 0 ? "connection closed" : std::strerror(errno));
  }
  buf_.append(tmp, static_cast<size_t>(n));
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> HttpClient::Read(bool head, std::chrono::milliseconds timeout) {
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    RCBENCH_RETURN_IF_ERROR(Fill(timeout));
  }
  HttpResponse r;
  std::vector<std::string> lines = absl::StrSplit(buf_.substr(0, end), "\r\n");
  buf_.erase(0, end + 4);
  std::vector<std::string> status = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (status.size() < 2 || !absl::SimpleAtoi(status[1], &r.status)) {
    return absl::DataLossError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) return absl::DataLossError("bad header: " + lines[i]);
    r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  if (head) return r;
  auto cl = r.headers.find("content-length");
  if (cl != r.headers.end()) {
    size_t length = 0;
    if (!absl::SimpleAtoi(cl->second, &length)) return absl::DataLossError("bad Content-Length");
    while (buf_.size() < length) RCBENCH_RETURN_IF_ERROR(Fill(timeout));
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
  } else {
    while (Fill(timeout).ok()) {
    }
    r.body = std::move(buf_);
    buf_.clear();
  }
  return r;
}

absl::StatusOr<HttpResponse> HttpClient::Get(absl::string_view path, absl::string_view extra) {
  RCBENCH_RETURN_IF_ERROR(
      Send(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\n", extra, "\r\n")));
  return Read();
}

bool HttpClient::WaitForClose(std::chrono::milliseconds timeout) {
  if (!buf_.empty()) return false;
  absl::Status s = Fill(timeout);
  return absl::IsOutOfRange(s) && buf_.empty();
}

std::optional<double> FindMetric(absl::string_view text, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      double v;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return std::nullopt;
}

}  // namespace rcbench::server::testing
