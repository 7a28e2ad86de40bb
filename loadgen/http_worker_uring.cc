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
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "loadgen/http_worker.h"
#include "loadgen/http_worker_internal.h"

namespace rcbench::loadgen {

using namespace http_worker_internal;  // NOLINT(build/namespaces): the worker's own inside

namespace {

// Sets up `ring` as the engine needs it: one thread submits and reaps, and task work (the
// receives' copies) runs when that thread enters the ring to wait, not by interrupting it.
absl::Status InitRing(io_uring* ring) {
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  p.cq_entries = 16384;
  const int r = io_uring_queue_init_params(4096, ring, &p);
  if (r < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "io_uring is unavailable: ", std::strerror(-r),
        " (the io_uring engine needs Linux 6.1 or later, kernel.io_uring_disabled = 0 and no "
        "seccomp filter against it); use --io epoll"));
  }
  if (!(p.features & IORING_FEAT_EXT_ARG)) {
    io_uring_queue_exit(ring);
    return absl::FailedPreconditionError(
        "io_uring lacks timed waits (IORING_FEAT_EXT_ARG); use --io epoll");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status IoUringSupport() {
  io_uring ring{};
  absl::Status st = InitRing(&ring);
  if (st.ok()) io_uring_queue_exit(&ring);
  return st;
}

absl::Status HttpWorker::SetUpUring() {
  auto u = std::make_unique<Uring>();
  absl::Status st = InitRing(&u->ring);
  if (!st.ok()) return st;
  u->ring_ready = true;
  // Two buffers per connection, so every socket can hold a response while another arrives.
  u->buffers = 64;
  while (u->buffers < 2 * num_conns_ && u->buffers < 2048) u->buffers *= 2;
  u->buffer_ring_bytes = u->buffers * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, u->buffer_ring_bytes, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return absl::ResourceExhaustedError("io_uring: buffer ring mmap failed");
  u->buffer_ring = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(u->buffer_ring);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(u->buffer_ring);
  reg.ring_entries = u->buffers;
  reg.bgid = kUringBufferGroup;
  const int rr = io_uring_register_buf_ring(&u->ring, &reg, 0);
  if (rr < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("io_uring: cannot register a provided-buffer ring: ", std::strerror(-rr),
                     " (Linux 5.19 or later); use --io epoll"));
  }
  u->storage.reset(new char[size_t{u->buffers} * kUringBufferSize]);
  for (uint32_t i = 0; i < u->buffers; ++i) u->Return(i);
  u->Flush();
  u->rearm.reserve(num_conns_);
  uring_ = std::move(u);
  return absl::OkStatus();
}

absl::Status HttpWorker::UringTurn(int64_t timeout_ns, int64_t* next_scan) {
  // One system call submits the sends queued since the last turn and waits for at least
  // one completion (or the timeout).
  // With batching, the wait ends at io_batch_ completions or after io_batch_wait_ns_.
  const int64_t t = io_batch_ > 1 ? std::min(timeout_ns, io_batch_wait_ns_) : timeout_ns;
  __kernel_timespec ts{t / 1'000'000'000, t % 1'000'000'000};
  io_uring_cqe* cqe = nullptr;
  const int r = io_uring_submit_and_wait_timeout(&uring_->ring, &cqe, io_batch_, &ts, nullptr);
  if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
    return absl::InternalError(absl::StrCat("io_uring_enter: ", std::strerror(-r)));
  }
  std::lock_guard<std::mutex> lock(mu_);
  unsigned head = 0;
  unsigned seen = 0;
  io_uring_for_each_cqe(&uring_->ring, head, cqe) {
    ++seen;
    OnCompletion(cqe->user_data, cqe->res, cqe->flags, clock_->MonotonicNanos());
  }
  io_uring_cq_advance(&uring_->ring, seen);
  uring_->Flush();
  for (const auto& [c, gen] : uring_->rearm) {
    // Only the same connection: a socket opened in the slot since arms its own receive
    // once connected.
    if (c->fd >= 0 && c->gen == gen && !c->recv_armed) ArmReceive(c);
  }
  uring_->rearm.clear();
  AfterEvents(clock_->MonotonicNanos(), next_scan);
  return absl::OkStatus();
}

void HttpWorker::ArmReceive(Conn* c) {
  io_uring_sqe* sqe = uring_->Sqe();
  io_uring_prep_recv_multishot(sqe, c->fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kUringBufferGroup;
  io_uring_sqe_set_data64(sqe, UserData(c->index, c->gen));
  c->submitted = true;
  c->recv_armed = true;
}

void HttpWorker::OnCompletion(uint64_t user_data, int32_t res, uint32_t flags, int64_t now) {
  if (user_data == kCancelTag) return;
  Uring& u = *uring_;
  const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
  const uint32_t buffer = flags >> IORING_CQE_BUFFER_SHIFT;
  const uint32_t index = static_cast<uint32_t>(user_data);
  Conn* c = index < num_conns_ ? &conns_[index] : nullptr;
  if (c == nullptr || c->fd < 0 || c->gen != static_cast<uint32_t>(user_data >> 32)) {
    if (has_buffer) u.Return(buffer);  // a completion for a socket closed since
    return;
  }
  if (c->state == Conn::kConnecting) {  // the connect poll
    OnEvent(c, res < 0 ? static_cast<uint32_t>(EPOLLERR) : static_cast<uint32_t>(res), now);
    return;
  }
  const bool receive_ended = (flags & IORING_CQE_F_MORE) == 0;
  if (res > 0 && has_buffer) {
    if (receive_ended) c->recv_armed = false;
    const uint32_t gen = c->gen;
    if (c->state == Conn::kReading || c->state == Conn::kWriting) {
      OnData(c, u.Buffer(buffer), static_cast<size_t>(res), now);
    } else if (c->state == Conn::kIdle) {
      CloseIdle(c, now);
    }
    u.Return(buffer);
    // A multishot receive can end after data (e.g. a full completion queue); re-arm it if
    // the connection is still the same one.
    if (c->fd >= 0 && c->gen == gen && !c->recv_armed) ArmReceive(c);
    return;
  }
  if (has_buffer) u.Return(buffer);
  if (res == -ENOBUFS) {  // every buffer is in use: re-arm once this turn's are returned
    c->recv_armed = false;
    u.rearm.emplace_back(c, c->gen);
    return;
  }
  if (res == -ECANCELED) return;
  if (res == 0) c->recv_armed = false;
  // End of stream (res 0), or a send or receive error.
  if (c->state == Conn::kIdle) {
    CloseIdle(c, now);
  } else if (c->state == Conn::kReading || c->state == Conn::kWriting) {
    if (res == 0) {
      OnPeerClosed(c, now);
    } else {
      Fail(c, kReset, now);
    }
  }
}

}  // namespace rcbench::loadgen
