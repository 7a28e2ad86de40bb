#pragma once

// CGI/1.1 (RFC 3875): building a script's environment, running it as a real child process
// driven by the caller's event loop, and turning its output into an HTTP response.

#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/http_request.h"

namespace rcbench::server {

// What the server knows about a CGI request besides the HTTP request itself.
struct CgiContext {
  std::string script_name;  // "/cgi-bin/spin"
  std::string path_info;    // the rest of the path, decoded ("" or "/x/y")
  std::string query;        // raw query string, without '?'
  std::string docroot;      // for PATH_TRANSLATED
  std::string remote_addr;
  uint16_t remote_port = 0;
  std::string server_name;  // Host without port, else the local address
  uint16_t server_port = 0;
};

// The meta-variables of RFC 3875 §4.1 as "NAME=value" strings, plus HTTP_* for the request's
// headers (§4.1.18; Authorization, Proxy-Authorization, Content-Length, Content-Type and
// Connection excluded, and Proxy, so that no HTTP_PROXY reaches the script: httpoxy) and PATH.
std::vector<std::string> BuildCgiEnvironment(const HttpRequest& request, const CgiContext& ctx);

// A CGI script's response (RFC 3875 §6) converted for HTTP.
struct CgiResponse {
  int status = 200;
  std::string headers;  // "Name: value\r\n" lines, Status removed
  std::string body;
};

// Parses document / local-redirect-less client-redirect responses: a header block ended by a
// blank line (LF or CRLF), with Content-Type, Location or Status present. False on malformed
// output (no header block, bad Status, header line without ':').
bool ParseCgiOutput(absl::string_view output, CgiResponse* response);

struct CgiRun {
  enum class Outcome { kOk, kFailed, kTimeout };
  Outcome outcome = Outcome::kFailed;
  std::string output;    // stdout, up to the output limit
  int exit_status = -1;  // exit code, or 128 + signal
  std::string error;     // why it failed
};

// One running CGI child, owned by shared_ptr (its pending I/O holds references). All callbacks
// run on `io`'s thread; not thread-safe. The child leads its own process group, and signals go
// to the whole group, so a shell script's own children stop with it. Abandon() drops `done`
// and stops the child: SIGTERM, then SIGKILL after a grace period. The child is always reaped
// (at the latest when the object is destroyed).
class CgiProcess : public std::enable_shared_from_this<CgiProcess> {
 public:
  struct Options {
    std::chrono::nanoseconds timeout = std::chrono::seconds(30);
    // After Abandon(): how long the child has to exit on SIGTERM before SIGKILL.
    std::chrono::nanoseconds kill_grace = std::chrono::seconds(1);
    uint64_t max_output_bytes = 16 << 20;
    // The child writes "0" to each of these descriptors (cgroup.procs files) before exec, so
    // it starts inside that container.
    std::vector<int> join_fds;
    // A slot of a concurrency limit that the caller took (incremented) for this run: it is
    // decremented exactly once, when the child has been reaped or could not be started. Must
    // outlive the CgiProcess. May be null.
    std::atomic<int>* slot = nullptr;
  };

  explicit CgiProcess(boost::asio::io_context& io);
  ~CgiProcess();
  CgiProcess(const CgiProcess&) = delete;
  CgiProcess& operator=(const CgiProcess&) = delete;

  // Starts `program` with `env`, writing `body` to its stdin. `done` is called once. Sets
  // SIGPIPE to ignored, process-wide.
  void Start(const std::string& program, const std::vector<std::string>& env, std::string body,
             const Options& options, std::function<void(CgiRun)> done);
  // Kills the child (if running) and forgets `done`.
  void Abandon();
  pid_t pid() const { return pid_; }

 private:
  void ReadMore();
  void WriteBody();
  void MaybeFinish();
  void Signal(int sig);
  void ReleaseSlot();

  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor out_;
  boost::asio::posix::stream_descriptor in_;
  boost::asio::posix::stream_descriptor exit_;  // a pidfd: readable when the child exits
  boost::asio::steady_timer timer_;
  std::function<void(CgiRun)> done_;
  CgiRun run_;
  std::string body_;
  uint64_t max_output_ = 0;
  std::chrono::nanoseconds kill_grace_{0};
  std::atomic<int>* slot_ = nullptr;
  pid_t pid_ = -1;
  bool eof_ = false;
  bool exited_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
  char buf_[16384];
};

}  // namespace rcbench::server
