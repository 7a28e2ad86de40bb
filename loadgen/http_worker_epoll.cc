#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "loadgen/http_worker.h"
#include "loadgen/http_worker_internal.h"

namespace rcbench::loadgen {

using namespace http_worker_internal;  // NOLINT(build/namespaces): the worker's own inside

absl::Status HttpWorker::SetUpEpoll() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::InternalError(absl::StrCat("epoll_create1: errno ", errno));
  return absl::OkStatus();
}

absl::Status HttpWorker::EpollTurn(int64_t timeout_ns, int64_t* next_scan) {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
              static_cast<long>(timeout_ns % 1'000'000'000)};
  const int n = epoll_pwait2(epoll_fd_, events, kMaxEvents, &ts, nullptr);
  if (n < 0 && errno != EINTR)
    return absl::InternalError(absl::StrCat("epoll_pwait2: errno ", errno));
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < n; ++i) {
    OnEvent(static_cast<Conn*>(events[i].data.ptr), events[i].events, clock_->MonotonicNanos());
  }
  AfterEvents(clock_->MonotonicNanos(), next_scan);
  return absl::OkStatus();
}

void HttpWorker::OnReadable(Conn* c, int64_t now) {
  for (;;) {
    const ssize_t r = recv(c->fd, read_buffer_.get(), kReadSize, 0);
    if (r > 0) {
      if (!OnData(c, read_buffer_.get(), static_cast<size_t>(r), now)) return;
      // A short read drained the socket; with edge triggering the next data brings a new
      // event. A peer's FIN after the data, though, would not: keep reading to see it.
      if (static_cast<size_t>(r) < kReadSize) {
        // Only a body delimited by the connection's end needs that extra recv.
        if (c->parser && c->parser->is_header_done() && !c->parser->content_length() &&
            !c->parser->chunked()) {
          continue;
        }
        return;
      }
      continue;
    }
    if (r == 0) {
      OnPeerClosed(c, now);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    Fail(c, kReset, now);
    return;
  }
}

}  // namespace rcbench::loadgen
