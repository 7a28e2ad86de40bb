#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/daemon.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "rc/accounting.h"
#include "server/cgi.h"
#include "server/classifier.h"
#include "server/event_loop.h"
#include "server/event_queue.h"
#include "server/file_cache.h"
#include "server/handler_memory.h"
#include "server/http_request.h"
#include "server/log_limiter.h"
#include "server/syn_filter.h"

namespace rcbench::server {

namespace http = boost::beast::http;

namespace {

constexpr absl::string_view kKeepAlive = "Connection: keep-alive\r\n\r\n";
constexpr absl::string_view kClose = "Connection: close\r\n\r\n";
constexpr int64_t kDrainNanos = 2'000'000'000;
// A file served from disk goes out in pieces of at most this size, with a turn of the loop in
// between, so one large download cannot hold up the other connections.
constexpr size_t kFileChunkBytes = 256 << 10;

int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Spins until this thread has used `nanos` more CPU time (--request-cpu). Thread CPU time,
// not wall time, so time the thread spends preempted is not counted as work done.
void BurnThreadCpu(int64_t nanos) {
  const int64_t end = ThreadCpuNanos() + nanos;
  while (ThreadCpuNanos() < end) {
  }
}

}  // namespace

void Connection::Open(int fd, const IpAddress& peer, uint16_t peer_port, int class_id) {
  boost::system::error_code ec;
  socket_.assign(peer.family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  class_id_ = class_id;
  container = class_id;
  vhost_ = -1;
  peer_ = peer;
  peer_port_ = peer_port;
  begin_ = end_ = 0;
  pending_ = 0;
  request_started_ = false;
  parser_.reset();
  if (worker_->accounting()) {
    logical_ = rc::LogicalContainer::Create(absl::StrCat("conn-", worker_->connection_serial_++),
                                            worker_->shared().logical[class_id]);
  }
  last_activity_ns_ = worker_->clock().MonotonicNanos();
  stats().connections_accepted.fetch_add(1, std::memory_order_relaxed);
  stats().connections_open.fetch_add(1, std::memory_order_relaxed);
  state_ = State::kReading;
  if (ec) {
    ::close(fd);
    CloseNow();
    return;
  }
  StartRead();
}

void Connection::StartRead() {
  if (begin_ == end_) begin_ = end_ = 0;
  state_ = state_ == State::kDraining ? State::kDraining : State::kReading;
  ++pending_;
  socket_.async_read_some(asio::buffer(buf_.get() + end_, cap_ - end_),
                          BindMemory(read_memory_, [this](const boost::system::error_code& ec,
                                                          size_t n) { OnRead(ec, n); }));
}

void Connection::OnRead(const boost::system::error_code& ec, size_t n) {
  --pending_;
  if (state_ == State::kClosed) return MaybeRelease();
  int64_t now = worker_->clock().MonotonicNanos();
  if (state_ == State::kDraining) {
    if (ec || n == 0) return CloseNow();
    begin_ = end_ = 0;
    return StartRead();
  }
  if (ec) {
    if (ec != asio::error::eof && request_started_) {
      worker_->shared().metrics->CountError(ConnError::kReset);
    }
    return CloseNow();
  }
  last_activity_ns_ = now;
  if (!request_started_) {
    request_started_ = true;
    request_start_ns_ = now;
  }
  end_ += n;
  ++pending_;  // the queued event
  worker_->Ready(this);
}

void Connection::Process() {
  --pending_;
  if (state_ == State::kClosed) return MaybeRelease();
  const ServerConfig& cfg = worker_->shared().config;
  if (!parser_) parser_.emplace(&request_, cfg.max_header_bytes, cfg.max_body_bytes);
  if (begin_ == end_) return StartRead();
  boost::beast::error_code ec;
  size_t used = parser_->put(asio::const_buffer(buf_.get() + begin_, end_ - begin_), ec);
  begin_ += used;
  if (ec == http::error::need_more || (!ec && !parser_->is_done())) {
    // Keep the unparsed tail at the front of the buffer and read more.
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == cap_) return Fail(431, ConnError::kHeaderTooLarge);
    return StartRead();
  }
  if (ec == http::error::header_limit) return Fail(431, ConnError::kHeaderTooLarge);
  if (ec == http::error::body_limit) return Fail(413, ConnError::kBodyTooLarge);
  if (ec) return Fail(400, ConnError::kBadRequest);
  parser_.reset();
  Handle();
}

void Connection::Handle() {
  Shared& sh = worker_->shared();
  absl::string_view query;
  if (!DecodeTarget(request_.target, &path_, &query)) return Fail(400, ConnError::kBadRequest);
  keep_alive_ = request_.keep_alive && !sh.stopping.load(std::memory_order_relaxed);
  http::verb m = request_.method;
  bool get_or_head = m == http::verb::get || m == http::verb::head;
  const FileCache* cache = &sh.default_cache;
  vhost_ = -1;
  container = class_id_;
  if (!sh.config.vhosts.empty() && !request_.host.empty()) {
    int v = sh.VhostIndex(request_.host);
    if (v >= 0) {
      cache = &sh.vhost_caches[v];
      // This request's work is charged to, and ordered by, the virtual server's container.
      vhost_ = v;
      container = sh.class_count() + v;
      if (worker_->accounting()) rc::ThreadAccounting::SwitchTo(sh.logical[container]);
    }
  }

  if (absl::StartsWith(path_, "/cgi-bin/")) {
    absl::string_view rest = absl::string_view(path_).substr(9);
    absl::string_view name = rest.substr(0, rest.find('/'));
    for (const CgiProgram& p : sh.config.cgi) {
      if (p.name == name) {
        if (!get_or_head && m != http::verb::post) break;
        return HandleCgi(p, rest.substr(name.size()), query);
      }
    }
  }
  if (!get_or_head) {
    if (m == http::verb::unknown) return SendDynamic(501, "text/plain", "", "not implemented\n");
    return SendDynamic(405, "text/plain", "Allow: GET, HEAD\r\n", "method not allowed\n");
  }
  if (path_ == "/healthz") return SendDynamic(200, "text/plain", "", "ok\n");
  if (path_ == "/metrics") {
    std::string text = sh.metrics->RenderText();
    return SendDynamic(200, "text/plain; version=0.0.4", "", text);
  }
  const CachedFile* f = cache->Find(path_);
  if (!f) return SendDynamic(404, "text/plain", "", "not found\n");
  if (sh.config.request_cpu.count() > 0) BurnThreadCpu(sh.config.request_cpu.count());
  if (f->on_disk()) return SendFromDisk(*f);
  SendStatic(*f);
}

void Connection::SendFromDisk(const CachedFile& file) {
  int fd = ::open(file.disk_path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (err == EMFILE || err == ENFILE) {
      keep_alive_ = false;
      return SendDynamic(503, "text/plain", "Retry-After: 1\r\n", "out of file descriptors\n");
    }
    return SendDynamic(404, "text/plain", "", "not found\n");
  }
  status_ = 200;
  // The length is the file's now, not at start-up; the file is read as it is while it goes out.
  dynamic_ = FileCache::BuildHead(200, ContentTypeFor(file.disk_path), st.st_size);
  absl::StrAppend(&dynamic_, worker_->date().Line(worker_->clock()),
                  keep_alive_ ? kKeepAlive : kClose);
  out_[0] = asio::buffer(dynamic_);
  if (request_.method == http::verb::head || st.st_size == 0) {
    ::close(fd);
  } else {
    file_fd_ = fd;
    file_offset_ = 0;
    file_end_ = st.st_size;
  }
  StartWrite(1);
}

void Connection::SendFileChunk() {
  const size_t left = static_cast<size_t>(file_end_ - file_offset_);
  ssize_t n =
      ::sendfile(socket_.native_handle(), file_fd_, &file_offset_, std::min(left, kFileChunkBytes));
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) {
    if (n > 0) last_activity_ns_ = worker_->clock().MonotonicNanos();
    if (file_offset_ == file_end_) {
      CloseFile();
      return FinishResponse({});
    }
    // Wait until the socket takes more (at once if it can: then this is just a turn of the loop).
    ++pending_;
    socket_.async_wait(
        tcp::socket::wait_write,
        BindMemory(write_memory_, [this](const boost::system::error_code& ec) { OnWrite(ec); }));
    return;
  }
  // n == 0: the file shrank below the length already sent, so the response cannot be framed
  // any more; otherwise a socket or disk error. Either way the connection has to go.
  const int err = n == 0 ? EIO : errno;
  CloseFile();
  FinishResponse(boost::system::error_code(err, boost::system::system_category()));
}

void Connection::CloseFile() {
  if (file_fd_ >= 0) ::close(file_fd_);
  file_fd_ = -1;
}

void Connection::SendStatic(const CachedFile& file) {
  status_ = 200;
  out_[0] = asio::buffer(file.head);
  absl::string_view date = worker_->date().Line(worker_->clock());
  out_[1] = asio::buffer(date.data(), date.size());
  absl::string_view conn = keep_alive_ ? kKeepAlive : kClose;
  out_[2] = asio::buffer(conn.data(), conn.size());
  out_[3] = request_.method == http::verb::head ? asio::const_buffer() : asio::buffer(file.body);
  StartWrite(4);
}

void Connection::SendDynamic(int status, absl::string_view content_type,
                             absl::string_view extra_headers, absl::string_view body) {
  status_ = status;
  dynamic_ = FileCache::BuildHead(status, content_type, body.size());
  absl::StrAppend(&dynamic_, extra_headers, worker_->date().Line(worker_->clock()),
                  keep_alive_ ? kKeepAlive : kClose);
  if (request_.method != http::verb::head) dynamic_.append(body.data(), body.size());
  out_[0] = asio::buffer(dynamic_);
  StartWrite(1);
}

void Connection::Fail(int status, ConnError why) {
  worker_->shared().metrics->CountError(why);
  keep_alive_ = false;
  parser_.reset();
  request_.method = http::verb::get;
  SendDynamic(status, "text/plain", "", absl::StrCat(status, " ", ReasonPhrase(status), "\n"));
}

void Connection::StartWrite(size_t nbufs) {
  state_ = State::kWriting;
  last_activity_ns_ = worker_->clock().MonotonicNanos();
  ++pending_;
  auto done = BindMemory(write_memory_,
                         [this](const boost::system::error_code& ec, size_t) { OnWrite(ec); });
  if (nbufs == 1) {
    asio::async_write(socket_, asio::buffer(out_[0]), done);
  } else {
    asio::async_write(socket_, out_, done);
  }
}

void Connection::OnWrite(const boost::system::error_code& ec) {
  --pending_;
  if (state_ == State::kClosed) return MaybeRelease();
  if (file_fd_ >= 0) {
    if (!ec) return SendFileChunk();
    CloseFile();
  }
  FinishResponse(ec);
}

void Connection::FinishResponse(const boost::system::error_code& ec) {
  int64_t now = worker_->clock().MonotonicNanos();
  stats().RecordRequest(status_, now - request_start_ns_);
  worker_->RecordLatency(container, now - request_start_ns_);
  if (ec) {
    worker_->shared().metrics->CountError(ConnError::kReset);
    return CloseNow();
  }
  last_activity_ns_ = now;
  request_started_ = begin_ != end_;
  request_start_ns_ = now;
  if (!keep_alive_) {
    // Lingering close when the client may still be sending (an error mid-stream): half-close
    // and discard its input so our response is not destroyed by a reset.
    if (status_ >= 400 || begin_ != end_) return StartDrain();
    return CloseNow();
  }
  if (begin_ != end_) {
    ++pending_;
    return worker_->Ready(this);
  }
  StartRead();
}

void Connection::StartDrain() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  state_ = State::kDraining;
  last_activity_ns_ = worker_->clock().MonotonicNanos();
  begin_ = end_ = 0;
  StartRead();
}

void Connection::HandleCgi(const CgiProgram& program, absl::string_view path_info,
                           absl::string_view query) {
  Shared& sh = worker_->shared();
  // Each child is a process with its own CPU and memory: past the limit, refuse rather than
  // let a flood of slow requests fork without bound.
  if (sh.cgi_children.fetch_add(1, std::memory_order_relaxed) >= sh.config.max_cgi_children) {
    sh.cgi_children.fetch_sub(1, std::memory_order_relaxed);
    sh.metrics->CountCgi(CgiOutcome::kRefused);
    keep_alive_ = false;
    return SendDynamic(503, "text/plain", "Retry-After: 1\r\n", "too many CGI requests\n");
  }
  CgiContext ctx;
  ctx.script_name = absl::StrCat("/cgi-bin/", program.name);
  ctx.path_info = std::string(path_info);
  ctx.query = std::string(query);
  ctx.docroot = sh.config.docroot;
  ctx.remote_addr = peer_.ToString();
  ctx.remote_port = peer_port_;
  boost::system::error_code ec;
  tcp::endpoint local = socket_.local_endpoint(ec);
  ctx.server_port = local.port();
  ctx.server_name = request_.host.empty() ? local.address().to_string(ec) : request_.host;
  CgiProcess::Options opts;
  opts.timeout = sh.config.cgi_timeout;
  opts.max_output_bytes = sh.config.max_cgi_output_bytes;
  opts.slot = &sh.cgi_children;
  if (sh.kernel) {
    int kc = vhost_ >= 0 ? sh.vhost_kernel[vhost_] : sh.cgi_kernel;
    if (kc >= 0) opts.join_fds = sh.kernel->JoinFds(kc);
  }
  state_ = State::kCgi;
  ++pending_;
  cgi_ = std::make_shared<CgiProcess>(worker_->io());
  cgi_->Start(program.path, BuildCgiEnvironment(request_, ctx), std::move(request_.body), opts,
              [this](CgiRun run) {
                --pending_;
                cgi_.reset();
                OnCgiDone(std::move(run));
              });
  WatchPeer();
}

void Connection::WatchPeer() {
  if (watching_) return;
  watching_ = true;
  ++pending_;
  socket_.async_wait(tcp::socket::wait_read,
                     BindMemory(watch_memory_, [this](const boost::system::error_code& ec) {
                       OnPeerReadable(ec);
                     }));
}

void Connection::OnPeerReadable(const boost::system::error_code& ec) {
  --pending_;
  watching_ = false;
  if (state_ == State::kClosed) return MaybeRelease();
  // The response is on its way: the connection reads as usual again.
  if (state_ != State::kCgi) return;
  if (!ec) {
    // Keep what the client sent (a pipelined request) and look again. With the buffer full we
    // cannot see an EOF behind the data; the CGI timeout still bounds the run.
    if (end_ == cap_) return;
    ssize_t n = ::recv(socket_.native_handle(), buf_.get() + end_, cap_ - end_, 0);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return WatchPeer();
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return WatchPeer();
  }
  // EOF or an error: nobody is left to read the answer, so stop the child now instead of
  // letting it burn CPU until it finishes or times out.
  worker_->shared().metrics->CountCgi(CgiOutcome::kAbandoned);
  CloseNow();
}

void Connection::OnCgiDone(CgiRun run) {
  Shared& sh = worker_->shared();
  if (run.outcome == CgiRun::Outcome::kTimeout) {
    sh.metrics->CountCgi(CgiOutcome::kTimeout);
    return SendDynamic(504, "text/plain", "", "CGI program timed out\n");
  }
  CgiResponse response;
  if (run.outcome != CgiRun::Outcome::kOk || !ParseCgiOutput(run.output, &response)) {
    sh.metrics->CountCgi(CgiOutcome::kFailed);
    RCBENCH_LOG(DEBUG) << "CGI failed: " << (run.error.empty() ? "malformed output" : run.error);
    return SendDynamic(502, "text/plain", "", "CGI program failed\n");
  }
  sh.metrics->CountCgi(CgiOutcome::kOk);
  SendDynamic(response.status, "", response.headers, response.body);
}

void Connection::Sweep(int64_t now) {
  const ServerConfig& cfg = worker_->shared().config;
  switch (state_) {
    case State::kReading:
      if (request_started_) {
        if (now - request_start_ns_ > cfg.request_timeout.count()) {
          return Fail(408, ConnError::kRequestTimeout);
        }
      } else if (now - last_activity_ns_ > cfg.idle_timeout.count()) {
        worker_->shared().metrics->CountError(ConnError::kIdleTimeout);
        return CloseNow();
      }
      break;
    case State::kWriting:
      if (now - last_activity_ns_ > cfg.request_timeout.count()) {
        worker_->shared().metrics->CountError(ConnError::kRequestTimeout);
        return CloseNow();
      }
      break;
    case State::kDraining:
      if (now - last_activity_ns_ > kDrainNanos) return CloseNow();
      break;
    case State::kCgi:
    case State::kClosed:
      break;
  }
}

void Connection::CloseNow() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  boost::system::error_code ignored;
  socket_.close(ignored);
  CloseFile();
  if (cgi_) {
    cgi_->Abandon();
    cgi_.reset();
    --pending_;
  }
  stats().connections_open.fetch_sub(1, std::memory_order_relaxed);
  parser_.reset();
  logical_.reset();
  MaybeRelease();
}

void Connection::MaybeRelease() {
  if (state_ == State::kClosed && pending_ == 0) worker_->Release(this);
}

}  // namespace rcbench::server
