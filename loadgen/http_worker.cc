#include "loadgen/http_worker.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "loadgen/http_worker_internal.h"

namespace rcbench::loadgen {

using namespace http_worker_internal;  // NOLINT(build/namespaces): the worker's own inside

namespace {

size_t TotalSockets(const std::vector<WorkerClassPlan>& plans) {
  size_t n = 0;
  for (const auto& p : plans) n += p.sockets;
  return n;
}

}  // namespace

std::vector<std::vector<WorkerClassPlan>> PlanWorkers(const RunSpec& spec, uint32_t workers) {
  std::vector<std::vector<WorkerClassPlan>> plans(workers);
  for (size_t i = 0; i < spec.classes.size(); ++i) {
    const ClassSpec& c = spec.classes[i];
    // ValidateWorkload bounds every class (and their sum) by kMaxMaxSockets.
    const uint32_t sockets = static_cast<uint32_t>(c.TotalSockets());
    // Shared pool: workers [0, workers). Dedicated: new workers after all others.
    const uint32_t pool = c.threads > 0 ? c.threads : workers;
    const size_t first = c.threads > 0 ? plans.size() : 0;
    if (c.threads > 0) plans.resize(plans.size() + std::min(pool, std::max<uint32_t>(1, sockets)));
    // A worker needs at least one socket to do anything for a class.
    const uint32_t used = std::max<uint32_t>(1, std::min(pool, sockets));
    for (uint32_t w = 0; w < used; ++w) {
      WorkerClassPlan p;
      p.spec = &c;
      p.class_index = i;
      p.sockets = sockets / used + (w < sockets % used ? 1 : 0);
      if (c.mode == Mode::kOpenLoop) {
        p.rate_rps = c.rate_rps / used;
        p.start_offset_ns = static_cast<int64_t>(w * 1e9 / c.rate_rps);
      }
      if (p.sockets > 0) plans[first + w].push_back(p);
    }
  }
  return plans;
}

HttpWorker::HttpWorker(std::vector<WorkerClassPlan> plans, size_t num_classes, const Clock* clock,
                       uint64_t seed, IoEngine io, uint32_t io_batch, int64_t io_batch_wait_ns)
    : clock_(clock),
      rng_(seed | 1),
      io_(io),
      io_batch_(std::max<uint32_t>(1, std::min<uint64_t>(io_batch, TotalSockets(plans) / 2))),
      io_batch_wait_ns_(io_batch_wait_ns),
      read_buffer_(io == IoEngine::kEpoll ? new char[kReadSize] : nullptr),
      counters_(num_classes) {
  num_conns_ = TotalSockets(plans);
  conns_.reset(new Conn[num_conns_]);
  for (size_t i = 0; i < num_conns_; ++i) conns_[i].index = static_cast<uint32_t>(i);
  size_t next = 0;
  for (const auto& p : plans) {
    auto cls = std::make_unique<ClassRuntime>();
    cls->plan = p;
    cls->spec = p.spec;
    cls->open_loop = p.spec->mode == Mode::kOpenLoop;
    cls->counters = &counters_[p.class_index];
    for (const auto& [path, weight] : p.spec->paths) {
      std::string req =
          absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", p.spec->host_header, "\r\n");
      for (const auto& h : p.spec->headers) absl::StrAppend(&req, h, "\r\n");
      if (!p.spec->keep_alive) req += "Connection: close\r\n";
      req += "\r\n";
      cls->requests.push_back(std::move(req));
      cls->total_weight += weight;
      cls->cumulative_weights.push_back(cls->total_weight);
    }
    cls->first = &conns_[next];
    cls->num_conns = p.sockets;
    for (uint32_t i = 0; i < p.sockets; ++i) conns_[next + i].cls = cls.get();
    next += p.sockets;
    if (cls->open_loop) {
      cls->mean_gap_ns = 1e9 / p.rate_rps;
      const double cap = std::clamp(p.rate_rps * 2.0, 1024.0, 4'194'304.0);
      cls->backlog.resize(static_cast<size_t>(cap));
      cls->idle.reserve(p.sockets);
      cls->free.reserve(p.sockets);
    }
    classes_.push_back(std::move(cls));
  }
}

HttpWorker::~HttpWorker() {
  for (size_t i = 0; i < num_conns_; ++i) CloseSocket(&conns_[i]);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

uint64_t HttpWorker::NextRandom() {
  // xorshift64*
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545F4914F6CDD1DULL;
}

int64_t HttpWorker::NextGap(ClassRuntime* cls) {
  if (!cls->spec->poisson) return static_cast<int64_t>(cls->mean_gap_ns);
  const double u = (static_cast<double>(NextRandom() >> 11) + 1.0) * 0x1.0p-53;
  return static_cast<int64_t>(-std::log(u) * cls->mean_gap_ns);
}

void HttpWorker::CloseSocket(Conn* c) {
  if (c->fd >= 0) {
    if (c->submitted && uring_ != nullptr) {
      // Requests in flight hold the socket open: cancel them (a multishot receive, a connect
      // poll, a send still waiting for buffer space) so the close takes effect at once.
      io_uring_sqe* sqe = uring_->Sqe();
      io_uring_prep_cancel64(sqe, UserData(c->index, c->gen), IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, kCancelTag);
      sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }
    close(c->fd);
    c->fd = -1;
    c->gen++;
  }
  c->submitted = false;
  c->recv_armed = false;
  c->parser.reset();
  c->arena.Reset();
  c->pending.clear();
}

void HttpWorker::StartConnect(Conn* c, int64_t now) {
  ClassRuntime* cls = c->cls;
  const ClassSpec& spec = *cls->spec;
  ClassCounters& k = *cls->counters;
  auto backoff = [&] {
    k.errors[kLocal]++;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = Conn::kBackoff;
    c->deadline_ns = now + kBackoffNs;
  };
  c->fd = socket(spec.target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return backoff();
  const int one = 1;
  if (spec.keep_alive) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (spec.linger_zero) {
    const linger lz{1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lz, sizeof(lz));
  }
  if (!spec.sources.empty()) {
    const SocketAddress& src = spec.sources[cls->next_source++ % spec.sources.size()];
    // Defer the port choice to connect(), so ports are shared across destinations.
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(c->fd, src.get(), src.length) != 0) return backoff();
  }
  k.connects_attempted++;
  c->connect_start_ns = now;
  const int r = connect(c->fd, spec.target.get(), spec.target.length);
  if (r != 0 && errno != EINPROGRESS) {
    if (errno == ECONNREFUSED) {
      k.errors[kConnectRefused]++;
      k.errors[kLocal]--;  // backoff() counts local; this one is the server's
    }
    return backoff();
  }
  if (uring_ != nullptr) {
    if (r != 0) {  // completion of the connect: the socket becomes writable (or fails)
      io_uring_sqe* sqe = uring_->Sqe();
      io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
      io_uring_sqe_set_data64(sqe, UserData(c->index, c->gen));
      c->submitted = true;
    }
  } else {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) return backoff();
  }
  c->state = Conn::kConnecting;
  c->deadline_ns = now + spec.connect_timeout_ns;
  if (r == 0) OnConnected(c, now);
}

void HttpWorker::OnEvent(Conn* c, uint32_t events, int64_t now) {
  switch (c->state) {
    case Conn::kConnecting:
      if (events & (EPOLLERR | EPOLLHUP)) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        Fail(c, err == ECONNREFUSED ? kConnectRefused : err == ECONNRESET ? kReset : kLocal, now);
      } else if (events & EPOLLOUT) {
        OnConnected(c, now);
      }
      break;
    case Conn::kWriting:
      if (events & (EPOLLERR | EPOLLHUP)) {
        Fail(c, kReset, now);
      } else if (events & EPOLLOUT) {
        ContinueWrite(c, now);
      }
      break;
    case Conn::kReading:
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) OnReadable(c, now);
      break;
    case Conn::kIdle:
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) CloseIdle(c, now);
      break;
    default:
      break;
  }
}

void HttpWorker::CloseIdle(Conn* c, int64_t now) {
  // The server closed an idle keep-alive connection (or sent something unasked): not an error.
  auto& idle = c->cls->idle;
  idle.erase(std::remove(idle.begin(), idle.end(), c), idle.end());
  CloseSocket(c);
  AfterClose(c, now);
}

void HttpWorker::OnConnected(Conn* c, int64_t now) {
  if (uring_ != nullptr) ArmReceive(c);
  ClassCounters& k = *c->cls->counters;
  k.connects_established++;
  k.connect_latency.Record(static_cast<uint64_t>(now - c->connect_start_ns));
  if (c->cls->open_loop && !c->has_request) {
    UseIdleOrFree(c, now);
    return;
  }
  BeginRequest(c, now);
}

void HttpWorker::BeginRequest(Conn* c, int64_t now) {
  ClassRuntime* cls = c->cls;
  c->request = cls->PickRequest(NextRandom());
  c->written = 0;
  c->send_ns = now;
  if (!cls->open_loop) c->intended_ns = now;
  c->has_request = false;
  cls->counters->requests_sent++;
  c->arena.Reset();
  c->parser.emplace(Header(Fields(ArenaAllocator<char>(&c->arena))));
  c->parser->eager(true);
  // An explicit maximum, not boost::none: Beast 1.74 compares Content-Length against the
  // optional limit with ">", and "n > none" is true.
  c->parser->body_limit(std::numeric_limits<std::uint64_t>::max());
  c->pending.clear();
  c->state = Conn::kWriting;
  c->deadline_ns = now + cls->spec->response_timeout_ns;
  ContinueWrite(c, now);
}

void HttpWorker::ContinueWrite(Conn* c, int64_t now) {
  const std::string& req = *c->request;
  if (uring_ != nullptr) {
    // MSG_WAITALL: io_uring retries a short send itself, so the send completes whole or fails;
    // only a failure posts a completion. The armed receive takes the response.
    io_uring_sqe* sqe = uring_->Sqe();
    io_uring_prep_send(sqe, c->fd, req.data() + c->written, req.size() - c->written,
                       MSG_NOSIGNAL | MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, UserData(c->index, c->gen));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    c->submitted = true;
    c->written = req.size();
    c->state = Conn::kReading;
    return;
  }
  while (c->written < req.size()) {
    const ssize_t r = send(c->fd, req.data() + c->written, req.size() - c->written, MSG_NOSIGNAL);
    if (r > 0) {
      c->written += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    Fail(c, kReset, now);
    return;
  }
  c->state = Conn::kReading;
}

bool HttpWorker::OnData(Conn* c, const char* data, size_t n, int64_t now) {
  c->cls->counters->bytes_received += n;
  return Feed(c, data, n, now);
}

void HttpWorker::OnPeerClosed(Conn* c, int64_t now) {
  boost::beast::error_code ec;
  // A peer that closes before sending anything has not answered at all.
  const bool answered = c->parser && c->parser->got_some();
  if (answered) c->parser->put_eof(ec);
  if (answered && !ec && c->parser->is_done()) {
    Complete(c, now);
  } else {
    Fail(c, kReset, now);
  }
}

bool HttpWorker::Feed(Conn* c, const char* data, size_t n, int64_t now) {
  if (!c->pending.empty()) {
    c->pending.append(data, n);
    data = c->pending.data();
    n = c->pending.size();
  }
  size_t off = 0;
  boost::beast::error_code ec;
  while (off < n) {
    const size_t used = c->parser->put(boost::asio::const_buffer(data + off, n - off), ec);
    off += used;
    if (ec == http::error::need_more) break;
    if (ec) {
      RCBENCH_LOG(DEBUG) << "class " << c->cls->spec->name
                         << ": response parse error: " << ec.message();
      Fail(c, kParseError, now);
      return false;
    }
    if (c->parser->is_done()) {
      Complete(c, now);
      return false;
    }
    if (used == 0) break;
  }
  if (off >= n) {
    c->pending.clear();
  } else if (data == c->pending.data()) {
    c->pending.erase(0, off);
  } else {
    c->pending.assign(data + off, n - off);
  }
  return true;
}

void HttpWorker::Complete(Conn* c, int64_t now) {
  ClassRuntime* cls = c->cls;
  ClassCounters& k = *cls->counters;
  const unsigned status = c->parser->get().result_int();
  const bool keep = cls->spec->keep_alive && c->parser->keep_alive();
  if (status >= 200 && status < 300) {
    k.requests_ok++;
    k.latency.Record(static_cast<uint64_t>(now - c->intended_ns));
    if (cls->open_loop) k.latency_uncorrected.Record(static_cast<uint64_t>(now - c->send_ns));
  } else {
    k.errors[kNon2xx]++;
  }
  c->parser.reset();
  c->arena.Reset();
  c->pending.clear();
  if (keep) {
    if (cls->open_loop) {
      UseIdleOrFree(c, now);
    } else {
      BeginRequest(c, now);
    }
    return;
  }
  CloseSocket(c);
  AfterClose(c, now);
}

void HttpWorker::Fail(Conn* c, int kind, int64_t now) {
  c->cls->counters->errors[kind]++;
  CloseSocket(c);
  c->has_request = false;
  AfterClose(c, now);
}

void HttpWorker::AfterClose(Conn* c, int64_t now) {
  ClassRuntime* cls = c->cls;
  if (!cls->open_loop) {
    // S-Client and closed loop: the next attempt starts at once (no TCP back-off).
    StartConnect(c, now);
    return;
  }
  c->state = Conn::kFree;
  if (c->has_request) {
    StartConnect(c, now);
    return;
  }
  if (cls->backlog_size > 0) {
    c->intended_ns = cls->backlog[cls->backlog_head];
    cls->backlog_head = (cls->backlog_head + 1) % cls->backlog.size();
    cls->backlog_size--;
    c->has_request = true;
    StartConnect(c, now);
    return;
  }
  cls->free.push_back(c);
}

void HttpWorker::UseIdleOrFree(Conn* c, int64_t now) {
  ClassRuntime* cls = c->cls;
  if (cls->backlog_size > 0) {
    c->intended_ns = cls->backlog[cls->backlog_head];
    cls->backlog_head = (cls->backlog_head + 1) % cls->backlog.size();
    cls->backlog_size--;
    BeginRequest(c, now);
    return;
  }
  c->state = Conn::kIdle;
  c->deadline_ns = 0;
  cls->idle.push_back(c);
}

void HttpWorker::Dispatch(ClassRuntime* cls, int64_t intended, int64_t now) {
  if (!cls->idle.empty()) {
    Conn* c = cls->idle.back();
    cls->idle.pop_back();
    c->intended_ns = intended;
    BeginRequest(c, now);
    return;
  }
  if (!cls->free.empty()) {
    Conn* c = cls->free.back();
    cls->free.pop_back();
    c->intended_ns = intended;
    c->has_request = true;
    StartConnect(c, now);
    return;
  }
  if (cls->backlog_size == cls->backlog.size()) {
    // More than ~2 s of arrivals queued: the request is dropped and counted.
    cls->counters->errors[kLocal]++;
    return;
  }
  cls->backlog[(cls->backlog_head + cls->backlog_size) % cls->backlog.size()] = intended;
  cls->backlog_size++;
}

void HttpWorker::OpenLoopTick(ClassRuntime* cls, int64_t now) {
  // Bounded so a stalled loop catching up cannot starve socket events for long.
  for (int i = 0; i < 4096 && cls->next_intended_ns <= now; ++i) {
    const int64_t intended = cls->next_intended_ns;
    if (now - intended > kLateThresholdNs) cls->counters->errors[kLateSend]++;
    Dispatch(cls, intended, now);
    cls->next_intended_ns += std::max<int64_t>(1, NextGap(cls));
  }
}

void HttpWorker::ScanTimers(int64_t now) {
  for (size_t i = 0; i < num_conns_; ++i) {
    Conn* c = &conns_[i];
    switch (c->state) {
      case Conn::kBackoff:
        if (c->deadline_ns <= now) StartConnect(c, now);
        break;
      case Conn::kConnecting:
        if (c->deadline_ns <= now) {
          // S-Client: close and retry at once instead of waiting for SYN retransmission.
          Fail(c, kConnectTimeout, now);
        }
        break;
      case Conn::kWriting:
      case Conn::kReading:
        if (c->deadline_ns <= now) Fail(c, kResponseTimeout, now);
        break;
      default:
        break;
    }
  }
}

void HttpWorker::AfterEvents(int64_t now, int64_t* next_scan) {
  for (auto& cls : classes_) {
    if (cls->open_loop) OpenLoopTick(cls.get(), now);
  }
  if (now >= *next_scan) {
    ScanTimers(now);
    *next_scan = now + kScanIntervalNs;
  }
}

absl::Status HttpWorker::Run(const std::atomic<bool>& stop, int64_t start_ns, int64_t end_ns) {
  absl::Status st = io_ == IoEngine::kIoUring ? SetUpUring() : SetUpEpoll();
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_->MonotonicNanos();
    for (auto& cls : classes_) {
      if (cls->open_loop) {
        for (uint32_t i = 0; i < cls->num_conns; ++i) cls->free.push_back(&cls->first[i]);
        std::reverse(cls->free.begin(), cls->free.end());
        cls->next_intended_ns = start_ns + cls->plan.start_offset_ns;
        if (cls->spec->poisson) cls->next_intended_ns += NextGap(cls.get());
      } else {
        for (uint32_t i = 0; i < cls->num_conns; ++i) StartConnect(&cls->first[i], now);
      }
    }
  }
  int64_t next_scan = clock_->MonotonicNanos() + kScanIntervalNs;
  while (!stop.load(std::memory_order_relaxed)) {
    int64_t now = clock_->MonotonicNanos();
    if (now >= end_ns) break;
    int64_t wake = std::min(end_ns, next_scan);
    for (auto& cls : classes_) {
      if (cls->open_loop) wake = std::min(wake, cls->next_intended_ns);
    }
    const int64_t timeout_ns = std::max<int64_t>(0, wake - now);
    st = uring_ != nullptr ? UringTurn(timeout_ns, &next_scan) : EpollTurn(timeout_ns, &next_scan);
    if (!st.ok()) return st;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < num_conns_; ++i) {
    CloseSocket(&conns_[i]);
    conns_[i].state = Conn::kFree;
  }
  if (uring_ != nullptr) {
    io_uring_submit(&uring_->ring);
    uring_.reset();  // io_uring_queue_exit cancels whatever is still in flight
  }
  return absl::OkStatus();
}

void HttpWorker::Collect(std::vector<ClassCounters>* into) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < counters_.size() && i < into->size(); ++i) {
    (*into)[i].Merge(counters_[i]);
    counters_[i].Reset();
  }
}

}  // namespace rcbench::loadgen
