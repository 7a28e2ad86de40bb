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

// Containers on: the longest a dispatch turn runs before the reactor is polled again.
constexpr int64_t kTurnNanos = 100'000;

}  // namespace

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

}  // namespace rcbench::server
