#pragma once

// A small blocking HTTP/1.1 client for tests: real sockets, every wait bounded by a timeout so a
// broken server fails the test instead of hanging it. Not thread-safe.

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::server::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class HttpClient {
 public:
  // Connects to "HOST:PORT", optionally from source address `from` (e.g. "127.0.0.2").
  static absl::StatusOr<HttpClient> Connect(
      absl::string_view address, absl::string_view from = "",
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  HttpClient(HttpClient&& o) noexcept;
  HttpClient& operator=(HttpClient&& o) noexcept;
  ~HttpClient();

  absl::Status Send(absl::string_view bytes);
  // Reads one response (Content-Length framed; without one, until EOF). `head` for HEAD.
  absl::StatusOr<HttpResponse> Read(bool head = false,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `GET path` with `extra` header lines and reads the response.
  absl::StatusOr<HttpResponse> Get(absl::string_view path, absl::string_view extra = "");
  // True if the server closed the connection (EOF or reset) within `timeout`, having sent
  // nothing more.
  bool WaitForClose(std::chrono::milliseconds timeout);

 private:
  explicit HttpClient(int fd) : fd_(fd) {}
  absl::Status Fill(std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// Reads a Prometheus sample value from `text`: the first line starting with `series` (name with
// labels exactly as exposed). nullopt if absent.
std::optional<double> FindMetric(absl::string_view text, absl::string_view series);

}  // namespace rcbench::server::testing
