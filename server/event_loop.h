#pragma once

// The inside of rcbench-server (server/server.h), shared by its parts: the state every loop
// shares (Shared), one event loop (Worker, worker.cc), one HTTP connection (Connection,
// connection.cc) and one listen socket (Listener, listener.cc). Server::Impl (server.cc) owns
// and wires them. Not a public interface: only the server's own files include it.
//
// Threading: a Worker and everything it holds (its connections, the listeners it is home to)
// are touched only by the worker's thread, except where a member says otherwise.

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/cidr.h"
#include "common/clock.h"
#include "common/histogram.h"
#include "rc/accounting.h"
#include "server/cgi.h"
#include "server/classifier.h"
#include "server/config.h"
#include "server/event_queue.h"
#include "server/file_cache.h"
#include "server/handler_memory.h"
#include "server/http_request.h"
#include "server/kernel_containers.h"
#include "server/log_limiter.h"
#include "server/metrics.h"

namespace rcbench::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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

class Worker;
class Connection;

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

}  // namespace rcbench::server
