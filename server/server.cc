#include "server/server.h"

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
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "prometheus/exposer.h"
#include "rc/accounting.h"
#include "server/cgi.h"
#include "server/classifier.h"
#include "server/event_queue.h"
#include "server/file_cache.h"
#include "server/handler_memory.h"
#include "server/http_request.h"
#include "server/log_limiter.h"
#include "server/syn_filter.h"

namespace rcbench::server {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr absl::string_view kKeepAlive = "Connection: keep-alive\r\n\r\n";
constexpr absl::string_view kClose = "Connection: close\r\n\r\n";
constexpr int64_t kDrainNanos = 2'000'000'000;
// Containers on: the longest a dispatch turn runs before the reactor is polled again.
constexpr int64_t kTurnNanos = 100'000;
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

// "Date: ...\r\n", reformatted at most once per second.
class DateCache {
 public:
  absl::string_view Line(const Clock& clock) {
    int64_t sec =
        std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
    if (sec != sec_) {
      sec_ = sec;
      time_t t = static_cast<time_t>(sec);
      tm g;
      gmtime_r(&t, &g);
      len_ = strftime(buf_, sizeof(buf_), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &g);
    }
    return absl::string_view(buf_, len_);
  }

 private:
  int64_t sec_ = -1;
  char buf_[64];
  size_t len_ = 0;
};

// Something the event loop handles when it becomes ready: a connection or a listener.
struct Dispatchable : EventNode {
  virtual ~Dispatchable() = default;
  virtual void OnDispatch() = 0;
  // The logical container its handling is charged to (containers on).
  virtual const std::shared_ptr<rc::LogicalContainer>& Logical() const = 0;
};

}  // namespace

class Worker;
class Connection;

// State shared by every loop; immutable once Run() starts, except the atomics it holds.
struct Shared {
  ServerConfig config;
  Clock* clock = nullptr;
  std::unique_ptr<KernelContainers> kernel;
  FileCache default_cache;
  std::vector<FileCache> vhost_caches;
  std::unique_ptr<Classifier> classifier;
  std::shared_ptr<ServerMetrics> metrics;
  // Logical containers of the classes, then of the virtual servers.
  std::vector<std::shared_ptr<rc::LogicalContainer>> logical;
  std::vector<int> class_kernel;  // kernel container per class (threads arch), or -1
  int cgi_kernel = -1;            // kernel container of CGI children, or -1
  std::vector<int> vhost_kernel;  // kernel container per vhost, or -1
  EventQueue::Policy policy = EventQueue::Policy::kFifo;
  size_t buffer_bytes = 16384;
  std::atomic<bool> stopping{false};
  // CGI children alive now (running or being stopped), against --max-cgi-children.
  std::atomic<int> cgi_children{0};

  int class_count() const { return static_cast<int>(config.classes.size()); }
  int VhostIndex(absl::string_view host) const {
    for (size_t i = 0; i < config.vhosts.size(); ++i) {
      if (config.vhosts[i].name == host) return static_cast<int>(i);
    }
    return -1;
  }
};

// One event loop: an io_context run by one thread, with its connections, its event queue and
// its user-level accounting. Everything here is touched only by that thread.
class Worker {
 public:
  Worker(Shared* shared, int index, int kernel_container)
      : shared_(shared), index_(index), kernel_container_(kernel_container), io_(1), sweep_(io_) {
    if (shared->policy != EventQueue::Policy::kFifo) {
      queue_.emplace(shared->policy, shared->logical, shared->clock);
    }
    latency_.resize(shared->logical.size());
  }
  ~Worker();

  asio::io_context& io() { return io_; }
  Shared& shared() { return *shared_; }
  const Clock& clock() const { return *shared_->clock; }
  DateCache& date() { return date_; }
  bool accounting() const { return shared_->config.containers; }
  int kernel_container() const { return kernel_container_; }
  int index() const { return index_; }

  // Called on this loop's thread before run(): timers, accounting baseline.
  void Begin();
  // A ready event: handled now (FIFO) or queued in container order.
  void Ready(Dispatchable* d);
  // Takes ownership of an accepted descriptor.
  void Adopt(int fd, const IpAddress& peer, uint16_t peer_port, int class_id);
  void Release(Connection* c);
  void RecordLatency(int container, int64_t ns) {
    std::lock_guard<std::mutex> lock(latency_mu_);
    latency_[container].Record(static_cast<uint64_t>(ns));
  }
  // Adds this loop's latency histograms into `out` (one per container).
  void MergeLatency(std::vector<LatencyHistogram>* out) {
    std::lock_guard<std::mutex> lock(latency_mu_);
    for (size_t i = 0; i < latency_.size() && i < out->size(); ++i) {
      (*out)[i].Merge(latency_[i]).IgnoreError();
    }
  }

 private:
  void DispatchOne();
  void Sweep();

  Shared* shared_;
  int index_;
  int kernel_container_;
  asio::io_context io_;
  asio::steady_timer sweep_;
  DateCache date_;
  std::optional<EventQueue> queue_;
  bool dispatch_posted_ = false;
  HandlerMemory dispatch_memory_;  // the one posted DispatchOne
  uint64_t connection_serial_ = 0;
  // Written by this loop, read by scrapes from other threads.
  std::mutex latency_mu_;
  std::vector<LatencyHistogram> latency_;
  Connection* live_ = nullptr;  // intrusive list of open connections
  std::vector<Connection*> free_;
  friend class Connection;
};

// One HTTP connection: its logical container (class, or a virtual server's), the request being
// parsed and the response being written. Lives in its worker's pool; single-threaded.
class Connection : public Dispatchable {
 public:
  explicit Connection(Worker* w)
      : worker_(w),
        socket_(w->io()),
        buf_(new char[w->shared().buffer_bytes]),
        cap_(w->shared().buffer_bytes) {}
  ~Connection() override {
    if (cgi_) cgi_->Abandon();
  }

  void Open(int fd, const IpAddress& peer, uint16_t peer_port, int class_id);
  void OnDispatch() override { Process(); }
  const std::shared_ptr<rc::LogicalContainer>& Logical() const override { return logical_; }
  void Sweep(int64_t now);
  void CloseNow();

  Connection* prev_ = nullptr;
  Connection* next_live_ = nullptr;

 private:
  enum class State { kReading, kWriting, kCgi, kDraining, kClosed };

  void StartRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void Process();
  void Handle();
  void HandleCgi(const CgiProgram& program, absl::string_view path, absl::string_view query);
  void OnCgiDone(CgiRun run);
  void WatchPeer();
  void OnPeerReadable(const boost::system::error_code& ec);
  void SendStatic(const CachedFile& file);
  void SendFromDisk(const CachedFile& file);
  void SendFileChunk();
  void CloseFile();
  void SendDynamic(int status, absl::string_view content_type, absl::string_view extra_headers,
                   absl::string_view body);
  void Fail(int status, ConnError why);
  void StartWrite(size_t nbufs);
  void OnWrite(const boost::system::error_code& ec);
  void FinishResponse(const boost::system::error_code& ec);
  void StartDrain();
  void MaybeRelease();
  ContainerStats& stats() { return worker_->shared().metrics->container(container); }

  Worker* worker_;
  tcp::socket socket_;
  std::unique_ptr<char[]> buf_;
  size_t cap_;
  size_t begin_ = 0, end_ = 0;
  std::optional<RequestParser> parser_;
  HttpRequest request_;
  std::string path_;
  std::string dynamic_;  // a dynamic response (errors, metrics, CGI), reused
  std::array<asio::const_buffer, 4> out_{};
  HandlerMemory read_memory_;
  HandlerMemory write_memory_;
  HandlerMemory watch_memory_;
  bool watching_ = false;  // a WatchPeer wait is pending
  State state_ = State::kClosed;
  int class_id_ = 0;
  int vhost_ = -1;
  int status_ = 0;
  bool keep_alive_ = true;
  bool request_started_ = false;
  int pending_ = 0;  // outstanding async operations, a queued event, a CGI run
  int64_t request_start_ns_ = 0;
  int64_t last_activity_ns_ = 0;
  IpAddress peer_;
  uint16_t peer_port_ = 0;
  std::shared_ptr<CgiProcess> cgi_;
  // The body of a response served from disk: [file_offset_, file_end_) of file_fd_.
  int file_fd_ = -1;
  off_t file_offset_ = 0;
  off_t file_end_ = 0;
  // This connection's own logical container (a child of its class's), with containers on.
  std::shared_ptr<rc::LogicalContainer> logical_;
};

Worker::~Worker() {
  std::vector<Connection*> live;
  for (Connection* c = live_; c; c = c->next_live_) live.push_back(c);
  for (Connection* c : live) c->CloseNow();
  // Let the aborted operations finish so nothing refers to a deleted connection.
  io_.restart();
  io_.poll();
  for (Connection* c = live_; c; c = c->next_live_) free_.push_back(c);
  for (Connection* c : free_) delete c;
}

void Worker::Begin() { Sweep(); }

void Worker::Ready(Dispatchable* d) {
  if (!queue_) {
    d->OnDispatch();
    return;
  }
  queue_->Push(d);
  if (!dispatch_posted_) {
    dispatch_posted_ = true;
    asio::post(io_, BindMemory(dispatch_memory_, [this] { DispatchOne(); }));
  }
}

void Worker::DispatchOne() {
  // Like the paper's select() loop: each turn handles, in container order, as many events as
  // were ready when it began, then lets the reactor poll again. Re-polling after every single
  // event would cost an epoll_wait per event; events that become ready during a turn compete
  // for the next one. With containers on (the paper's new event API) a turn also ends once it
  // has run for kTurnNanos, so an event of a more important container that becomes ready
  // behind a long batch of expensive ones waits for at most one of them, not the whole batch.
  size_t batch = queue_->size();
  bool switched = false;
  const bool bounded = accounting();
  const int64_t turn_end = bounded ? clock().MonotonicNanos() + kTurnNanos : 0;
  for (size_t i = 0; i < batch; ++i) {
    auto* d = static_cast<Dispatchable*>(queue_->Pop());
    if (!d) break;
    if (accounting()) {
      // The loop's thread is "bound" to the event's container while it handles it (rc's
      // user-level accounting: a cheap-clock switch, reconciled with the thread's CPU clock).
      rc::ThreadAccounting::SwitchTo(d->Logical());
      switched = true;
    }
    d->OnDispatch();
    if (bounded && clock().MonotonicNanos() >= turn_end) break;
  }
  if (switched) rc::ThreadAccounting::SwitchTo(nullptr);
  if (!queue_->empty()) {
    asio::post(io_, BindMemory(dispatch_memory_, [this] { DispatchOne(); }));
  } else {
    dispatch_posted_ = false;
    queue_->MarkIdle();
  }
}

void Worker::Sweep() {
  int64_t now = clock().MonotonicNanos();
  for (Connection* c = live_; c;) {
    Connection* next = c->next_live_;
    c->Sweep(now);
    c = next;
  }
  if (accounting()) rc::ThreadAccounting::Reconcile();
  const ServerConfig& cfg = shared_->config;
  auto period = std::min({cfg.idle_timeout, cfg.request_timeout,
                          std::chrono::nanoseconds(std::chrono::seconds(1))}) /
                4;
  period = std::max(period, std::chrono::nanoseconds(std::chrono::milliseconds(5)));
  sweep_.expires_after(period);
  sweep_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Sweep();
  });
}

void Worker::Adopt(int fd, const IpAddress& peer, uint16_t peer_port, int class_id) {
  Connection* c;
  if (!free_.empty()) {
    c = free_.back();
    free_.pop_back();
  } else {
    c = new Connection(this);
  }
  c->prev_ = nullptr;
  c->next_live_ = live_;
  if (live_) live_->prev_ = c;
  live_ = c;
  c->Open(fd, peer, peer_port, class_id);
}

void Worker::Release(Connection* c) {
  if (c->prev_) {
    c->prev_->next_live_ = c->next_live_;
  } else {
    live_ = c->next_live_;
  }
  if (c->next_live_) c->next_live_->prev_ = c->prev_;
  c->prev_ = c->next_live_ = nullptr;
  free_.push_back(c);
}

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

// A listen socket. Accepting is itself an event: with containers on it is ordered like any
// other, under the listener's class (the main listener's connections count as "default" until
// classified).
class Listener : public Dispatchable {
 public:
  Listener(Worker* home, std::string name, int class_id)
      : home_(home),
        name_(std::move(name)),
        class_id_(class_id),
        acceptor_(home->io()),
        backoff_(home->io()) {
    container = class_id < 0 ? home->shared().classifier->default_class() : class_id;
  }

  absl::Status Bind(const std::string& address, int backlog, const std::vector<Cidr>& filter);
  // Starts waiting for connections; call before the loop runs.
  void Arm();
  void OnDispatch() override;
  const std::shared_ptr<rc::LogicalContainer>& Logical() const override {
    return home_->shared().logical[container];
  }
  void set_route(std::function<void(int, const IpAddress&, uint16_t, int)> route) {
    route_ = std::move(route);
  }
  const std::string& name() const { return name_; }
  std::string address() const {
    boost::system::error_code ec;
    tcp::endpoint ep = acceptor_.local_endpoint(ec);
    std::string host = ep.address().to_string(ec);
    if (ep.address().is_v6()) host = absl::StrCat("[", host, "]");
    return absl::StrCat(host, ":", ep.port());
  }
  MetricsSources::ListenerInfo Info() const;
  void Close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  // An accept() failure: counted, logged at most once a second, and, when the process is out
  // of descriptors, a pause before accepting again.
  void OnAcceptError(int err);

  Worker* home_;
  std::string name_;
  int class_id_;
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  LogLimiter log_limiter_;
  std::function<void(int, const IpAddress&, uint16_t, int)> route_;
};

absl::Status Listener::Bind(const std::string& address, int backlog,
                            const std::vector<Cidr>& filter) {
  RCBENCH_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(address));
  boost::system::error_code ec;
  asio::ip::address addr =
      asio::ip::make_address(hp.host == "localhost" ? "127.0.0.1" : hp.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\": not an IP address"));
  }
  tcp::endpoint ep(addr, hp.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec && !filter.empty()) {
    RCBENCH_RETURN_IF_ERROR(AttachSynFilter(acceptor_.native_handle(), filter));
  }
  if (!ec) acceptor_.listen(backlog, ec);
  if (!ec) acceptor_.non_blocking(true, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("listen on ", address, ": ", ec.message()));
  }
  return absl::OkStatus();
}

void Listener::Arm() {
  acceptor_.async_wait(tcp::acceptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;
    home_->Ready(this);
  });
}

void Listener::OnDispatch() {
  // A bounded batch per turn, so a flood on one listener cannot monopolise the loop.
  for (int i = 0; i < 32; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = ::accept4(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Arm();
      return OnAcceptError(errno);
    }
    IpAddress peer = IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss));
    uint16_t port = ss.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    route_(fd, peer, port, class_id_);
  }
  // More may be waiting: come back after the events that are ready now.
  asio::post(home_->io(), [this] { home_->Ready(this); });
}

void Listener::OnAcceptError(int err) {
  // The connection stays in the accept queue, so the listener would be readable again at once:
  // re-arming straight away spun a core and wrote the same line hundreds of thousands of times
  // a second. Out of descriptors, pause until some may have been freed; the loop keeps serving
  // the open connections meanwhile.
  const bool fd_limit = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
  Shared& sh = home_->shared();
  sh.metrics->CountAcceptError(fd_limit ? AcceptError::kFdLimit : AcceptError::kOther);
  uint64_t suppressed = 0;
  if (log_limiter_.Allow(home_->clock().MonotonicNanos(), &suppressed)) {
    RCBENCH_LOG(WARNING) << "accept on " << name_ << ": " << std::strerror(err)
                         << (fd_limit ? "; pausing accepts" : "") << " (" << suppressed
                         << " more since the previous report)";
  }
  if (!fd_limit) return Arm();
  backoff_.expires_after(sh.config.accept_backoff);
  backoff_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Arm();
  });
}

MetricsSources::ListenerInfo Listener::Info() const {
  MetricsSources::ListenerInfo info;
  info.name = name_;
  int fd = const_cast<tcp::acceptor&>(acceptor_).native_handle();
  tcp_info ti{};
  socklen_t len = sizeof(ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
    // For a listener the kernel reports the accept queue length in tcpi_unacked and its limit
    // in tcpi_sacked.
    info.queue_length = ti.tcpi_unacked;
    info.queue_max = ti.tcpi_sacked;
  }
  uint32_t mem[SK_MEMINFO_VARS] = {};
  len = sizeof(mem);
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0) info.drops = mem[SK_MEMINFO_DROPS];
  return info;
}

class Server::Impl {
 public:
  absl::Status Init(ServerConfig config, Options options);
  void Run();
  void Stop();
  ~Impl();

  Shared shared_;
  std::unique_ptr<Worker> acceptor_loop_;  // threads arch: accepts and routes
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::vector<Worker*>> pools_;  // threads arch: workers per class (or one pool)
  std::array<std::atomic<uint32_t>, 33> round_robin_{};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string metrics_address_;
  std::atomic<bool> stop_requested_{false};
  RealClock* real_clock_ = RealClock::Get();
};

absl::Status Server::Impl::Init(ServerConfig config, Options options) {
  // Writes to a CGI child's closed stdin must fail with EPIPE, not kill the server.
  signal(SIGPIPE, SIG_IGN);
  Shared& sh = shared_;
  sh.config = std::move(config);
  const ServerConfig& cfg = sh.config;
  sh.clock = options.clock ? options.clock : real_clock_;
  sh.kernel = std::move(options.kernel_containers);
  if (cfg.containers && !sh.kernel) {
    return absl::InvalidArgumentError("--containers on needs kernel containers");
  }
  if (cfg.docroot.empty()) {
    sh.default_cache = FileCache::Generated(cfg.generated_file_bytes);
  } else {
    RCBENCH_ASSIGN_OR_RETURN(sh.default_cache, FileCache::Load(cfg.docroot, cfg.max_cache_bytes,
                                                               cfg.max_cached_file_bytes));
  }
  for (const VhostConfig& v : cfg.vhosts) {
    // An empty docroot serves the generated file, like the main host without --docroot.
    if (v.docroot.empty()) {
      sh.vhost_caches.push_back(FileCache::Generated(cfg.generated_file_bytes));
      continue;
    }
    RCBENCH_ASSIGN_OR_RETURN(
        FileCache c, FileCache::Load(v.docroot, cfg.max_cache_bytes, cfg.max_cached_file_bytes));
    sh.vhost_caches.push_back(std::move(c));
  }
  sh.classifier = std::make_unique<Classifier>(cfg.classes);
  std::vector<std::pair<std::string, std::string>> names;
  for (const ClassConfig& c : cfg.classes) {
    names.push_back({absl::StrCat("class/", c.name), c.name});
    rc::LogicalAttributes a;
    a.priority = c.priority;
    a.weight = c.weight;
    a.min_share = c.min_share;
    sh.logical.push_back(rc::LogicalContainer::Create(names.back().first, nullptr, a));
  }
  for (const VhostConfig& v : cfg.vhosts) {
    names.push_back({absl::StrCat("vhost/", v.name), ""});
    rc::LogicalAttributes a;
    a.weight = v.share;
    sh.logical.push_back(rc::LogicalContainer::Create(names.back().first, nullptr, a));
  }
  sh.metrics = std::make_shared<ServerMetrics>(std::move(names));
  sh.policy = cfg.containers    ? EventQueue::Policy::kWeighted
              : cfg.favour_high ? EventQueue::Policy::kPriority
                                : EventQueue::Policy::kFifo;
  sh.buffer_bytes = std::max<size_t>(16384, cfg.max_header_bytes + 1024);

  sh.class_kernel.assign(cfg.classes.size(), -1);
  sh.vhost_kernel.assign(cfg.vhosts.size(), -1);
  if (sh.kernel) {
    if (cfg.arch == Arch::kThreads) {
      for (size_t i = 0; i < cfg.classes.size(); ++i) {
        KernelContainerSpec spec;
        spec.name = absl::StrCat("class-", cfg.classes[i].name);
        spec.weight = cfg.classes[i].weight;
        spec.threaded = true;
        RCBENCH_ASSIGN_OR_RETURN(sh.class_kernel[i], sh.kernel->Create(spec));
      }
    }
    KernelContainerSpec cgi;
    cgi.name = "cgi";
    cgi.cpu_limit = cfg.cgi_cpu_limit;
    RCBENCH_ASSIGN_OR_RETURN(sh.cgi_kernel, sh.kernel->Create(cgi));
    for (size_t i = 0; i < cfg.vhosts.size(); ++i) {
      KernelContainerSpec spec;
      spec.name = absl::StrCat("vhost-", cfg.vhosts[i].name);
      spec.weight = cfg.vhosts[i].share;
      RCBENCH_ASSIGN_OR_RETURN(sh.vhost_kernel[i], sh.kernel->Create(spec));
    }
  }

  // Loops.
  if (cfg.arch == Arch::kEvent) {
    workers_.push_back(std::make_unique<Worker>(&sh, 0, -1));
  } else {
    acceptor_loop_ = std::make_unique<Worker>(&sh, -1, -1);
    if (cfg.containers) {
      for (size_t c = 0; c < cfg.classes.size(); ++c) {
        pools_.emplace_back();
        for (int t = 0; t < cfg.threads; ++t) {
          workers_.push_back(
              std::make_unique<Worker>(&sh, static_cast<int>(workers_.size()), sh.class_kernel[c]));
          pools_.back().push_back(workers_.back().get());
        }
      }
    } else {
      pools_.emplace_back();
      for (int t = 0; t < cfg.threads; ++t) {
        workers_.push_back(std::make_unique<Worker>(&sh, t, -1));
        pools_.back().push_back(workers_.back().get());
      }
    }
  }
  Worker* home = acceptor_loop_ ? acceptor_loop_.get() : workers_[0].get();
  auto route = [this](int fd, const IpAddress& peer, uint16_t port, int listener_class) {
    int cls = shared_.classifier->Classify(peer, listener_class);
    if (pools_.empty()) return workers_[0]->Adopt(fd, peer, port, cls);
    size_t pool = pools_.size() == 1 ? 0 : static_cast<size_t>(cls);
    std::vector<Worker*>& p = pools_[pool];
    Worker* w = p[round_robin_[pool].fetch_add(1, std::memory_order_relaxed) % p.size()];
    asio::post(w->io(), [w, fd, peer, port, cls] { w->Adopt(fd, peer, port, cls); });
  };
  auto add_listener = [&](std::string name, const std::string& address,
                          int class_id) -> absl::Status {
    auto l = std::make_unique<Listener>(home, std::move(name), class_id);
    RCBENCH_RETURN_IF_ERROR(l->Bind(address, cfg.backlog, cfg.syn_filter));
    l->set_route(route);
    listeners_.push_back(std::move(l));
    return absl::OkStatus();
  };
  RCBENCH_RETURN_IF_ERROR(add_listener("http", cfg.listen, -1));
  for (const ClassListener& cl : cfg.class_listeners) {
    RCBENCH_RETURN_IF_ERROR(add_listener(absl::StrCat("http.", cl.class_name), cl.address,
                                         cfg.ClassIndex(cl.class_name)));
  }

  MetricsSources sources;
  if (cfg.containers) {
    sources.user_cpu_seconds = [this] {
      std::vector<double> v;
      for (auto& l : shared_.logical) v.push_back(l->subtree_charged_ns() * 1e-9);
      return v;
    };
  }
  if (sh.kernel) {
    sources.kernel_cpu_seconds = [this] {
      std::vector<std::pair<std::string, double>> v;
      for (size_t i = 0; i < shared_.kernel->size(); ++i) {
        auto s = shared_.kernel->CpuSeconds(static_cast<int>(i));
        if (s.ok()) v.push_back({shared_.kernel->Name(static_cast<int>(i)), *s});
      }
      return v;
    };
  }
  sources.latency = [this] {
    std::vector<LatencyHistogram> v(shared_.logical.size());
    for (auto& w : workers_) w->MergeLatency(&v);
    return v;
  };
  sources.cgi_children = [this] { return shared_.cgi_children.load(std::memory_order_relaxed); };
  sources.listeners = [this] {
    std::vector<MetricsSources::ListenerInfo> v;
    for (auto& l : listeners_) v.push_back(l->Info());
    return v;
  };
  sh.metrics->set_sources(std::move(sources));

  if (!cfg.metrics_listen.empty()) {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(cfg.metrics_listen);
      exposer_->RegisterCollectable(sh.metrics);
      auto ports = exposer_->GetListeningPorts();
      RCBENCH_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(cfg.metrics_listen));
      metrics_address_ = absl::StrCat(hp.host, ":", ports.empty() ? hp.port : ports[0]);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("--metrics-listen ", cfg.metrics_listen, ": ", e.what()));
    }
  }
  return absl::OkStatus();
}

void Server::Impl::Run() {
  for (auto& l : listeners_) l->Arm();
  if (!acceptor_loop_) {
    Worker& w = *workers_[0];
    w.Begin();
    if (!stop_requested_.load()) w.io().run();
    return;
  }
  std::vector<std::thread> threads;
  for (auto& wp : workers_) {
    Worker* w = wp.get();
    threads.emplace_back([this, w] {
      if (w->kernel_container() >= 0) {
        absl::Status s = shared_.kernel->BindThread(w->kernel_container(),
                                                    static_cast<pid_t>(syscall(SYS_gettid)));
        if (!s.ok()) {
          RCBENCH_LOG(ERROR) << "binding worker " << w->index() << ": " << s;
        }
      }
      w->Begin();
      auto guard = asio::make_work_guard(w->io());
      if (!stop_requested_.load()) w->io().run();
    });
  }
  acceptor_loop_->Begin();
  if (!stop_requested_.load()) acceptor_loop_->io().run();
  for (auto& w : workers_) w->io().stop();
  for (auto& t : threads) t.join();
}

void Server::Impl::Stop() {
  stop_requested_.store(true);
  shared_.stopping.store(true);
  if (acceptor_loop_) acceptor_loop_->io().stop();
  for (auto& w : workers_) w->io().stop();
}

Server::Impl::~Impl() {
  exposer_.reset();
  listeners_.clear();
  workers_.clear();
  acceptor_loop_.reset();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerConfig config, Options options) {
  auto impl = std::make_unique<Impl>();
  RCBENCH_RETURN_IF_ERROR(impl->Init(std::move(config), std::move(options)));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }
ServerMetrics& Server::metrics() { return *impl_->shared_.metrics; }

std::string Server::http_address() const { return impl_->listeners_[0]->address(); }

std::vector<std::pair<std::string, std::string>> Server::listener_addresses() const {
  std::vector<std::pair<std::string, std::string>> v;
  for (auto& l : impl_->listeners_) v.push_back({l->name(), l->address()});
  if (!impl_->metrics_address_.empty()) v.push_back({"metrics", impl_->metrics_address_});
  return v;
}

absl::Status Server::WriteReadyFile(const std::string& path) const {
  std::string text = absl::StrCat("pid=", getpid(), "\n");
  for (auto& [name, addr] : listener_addresses()) absl::StrAppend(&text, name, "=", addr, "\n");
  std::string tmp = absl::StrCat(path, ".tmp");
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f)
    return absl::UnavailableError(absl::StrCat("--ready-file ", tmp, ": ", std::strerror(errno)));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok &= std::fclose(f) == 0;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("--ready-file ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace rcbench::server
