#pragma once

// The inside of HttpWorker (loadgen/http_worker.h), shared by its files: the response parser
// that keeps no header fields, a connection slot (Conn), a class's runtime state and the
// io_uring engine's ring. http_worker.cc has everything common to both engines (the connection
// state machine, the timers, Run's skeleton); http_worker_epoll.cc the epoll engine and
// http_worker_uring.cc the io_uring engine, each its set-up and one turn of the loop. Not a
// public interface. Single-threaded: a worker's state is touched only by its thread.

#include <liburing.h>
#include <sys/mman.h>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/http_worker.h"

namespace rcbench::loadgen {
namespace http_worker_internal {

namespace http = boost::beast::http;

// A body that counts nothing and keeps nothing: the generator only needs the status, the
// framing and the byte count (taken from the socket reads).
struct DiscardBody {
  struct value_type {};
  struct reader {
    template <bool isRequest, class Fields>
    explicit reader(http::header<isRequest, Fields>&, value_type&) {}
    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      return boost::asio::buffer_size(buffers);
    }
    void finish(boost::beast::error_code& ec) { ec = {}; }
  };
};

// Storage for one response's header fields, reused for every response on a connection, so
// parsing allocates nothing in steady state. Oversized headers fall back to the heap.
class HeaderArena {
 public:
  static constexpr size_t kSize = 4096;
  void* Allocate(size_t n, size_t align) {
    const size_t start = (used_ + align - 1) & ~(align - 1);
    if (start + n <= kSize) {
      used_ = start + n;
      return buf_ + start;
    }
    return ::operator new(n);
  }
  void Deallocate(void* p) {
    if (p < static_cast<void*>(buf_) || p >= static_cast<void*>(buf_ + kSize)) ::operator delete(p);
  }
  void Reset() { used_ = 0; }

 private:
  alignas(std::max_align_t) char buf_[kSize];
  size_t used_ = 0;
};

template <class T>
class ArenaAllocator {
 public:
  using value_type = T;
  explicit ArenaAllocator(HeaderArena* arena) noexcept : arena_(arena) {}
  template <class U>
  ArenaAllocator(const ArenaAllocator<U>& other) noexcept : arena_(other.arena()) {}
  T* allocate(size_t n) { return static_cast<T*>(arena_->Allocate(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, size_t) noexcept { arena_->Deallocate(p); }
  HeaderArena* arena() const { return arena_; }
  template <class U>
  bool operator==(const ArenaAllocator<U>& o) const {
    return arena_ == o.arena();
  }
  template <class U>
  bool operator!=(const ArenaAllocator<U>& o) const {
    return arena_ != o.arena();
  }

 private:
  HeaderArena* arena_;
};

using Fields = http::basic_fields<ArenaAllocator<char>>;
using Header = http::response_header<Fields>;

// Beast's response parser, minus storing header fields nobody reads: the status, framing and
// keep-alive (tracked by basic_parser itself from Connection, Content-Length and
// Transfer-Encoding) are all the generator needs.
class Parser : public http::response_parser<DiscardBody, ArenaAllocator<char>> {
 public:
  using http::response_parser<DiscardBody, ArenaAllocator<char>>::response_parser;

 private:
  void on_field_impl(http::field, boost::beast::string_view, boost::beast::string_view,
                     boost::beast::error_code& ec) override {
    ec = {};
  }
};

inline constexpr size_t kReadSize = 64 * 1024;
// io_uring engine: the provided-buffer ring's buffers, and the user_data of cancel requests
// (every other request's user_data is its connection's index and generation).
inline constexpr uint32_t kUringBufferSize = 16 * 1024;
inline constexpr uint16_t kUringBufferGroup = 0;
inline constexpr uint64_t kCancelTag = ~uint64_t{0};
inline constexpr int64_t kScanIntervalNs = 5'000'000;
inline constexpr int64_t kBackoffNs = 5'000'000;

inline uint64_t UserData(uint32_t index, uint32_t gen) { return uint64_t{gen} << 32 | index; }

}  // namespace http_worker_internal

struct HttpWorker::Conn {
  enum State : uint8_t { kFree, kBackoff, kConnecting, kWriting, kReading, kIdle };
  int fd = -1;
  // io_uring engine: this slot's index, and a generation bumped at every close so that
  // completions of an earlier socket in the same slot are recognised and dropped.
  uint32_t index = 0;
  uint32_t gen = 0;
  // io_uring engine: requests may be in flight on this socket (cancelled at close), and
  // whether the multishot receive is armed.
  bool submitted = false;
  bool recv_armed = false;
  State state = kFree;
  ClassRuntime* cls = nullptr;
  int64_t deadline_ns = 0;
  int64_t connect_start_ns = 0;
  int64_t send_ns = 0;
  int64_t intended_ns = 0;
  bool has_request = false;
  const std::string* request = nullptr;
  size_t written = 0;
  http_worker_internal::HeaderArena arena;
  std::optional<http_worker_internal::Parser> parser;
  std::string pending;
};

struct HttpWorker::ClassRuntime {
  WorkerClassPlan plan;
  const ClassSpec* spec = nullptr;
  bool open_loop = false;
  std::vector<std::string> requests;
  std::vector<uint64_t> cumulative_weights;
  uint64_t total_weight = 0;
  size_t next_source = 0;
  Conn* first = nullptr;
  uint32_t num_conns = 0;
  // Open loop.
  double mean_gap_ns = 0;
  int64_t next_intended_ns = 0;
  std::vector<int64_t> backlog;  // ring of intended send times waiting for a connection
  size_t backlog_head = 0;
  size_t backlog_size = 0;
  std::vector<Conn*> idle;
  std::vector<Conn*> free;
  ClassCounters* counters = nullptr;

  const std::string* PickRequest(uint64_t random) const {
    if (requests.size() == 1) return &requests[0];
    const uint64_t r = random % total_weight;
    for (size_t i = 0; i < cumulative_weights.size(); ++i) {
      if (r < cumulative_weights[i]) return &requests[i];
    }
    return &requests.back();
  }
};

struct HttpWorker::Uring {
  io_uring ring{};
  bool ring_ready = false;
  io_uring_buf_ring* buffer_ring = nullptr;
  size_t buffer_ring_bytes = 0;
  std::unique_ptr<char[]> storage;
  uint32_t buffers = 0;  // a power of two
  int returned = 0;      // buffers given back since the last advance
  // Receives that stopped for lack of buffers: the connection and its generation then.
  std::vector<std::pair<Conn*, uint32_t>> rearm;

  ~Uring() {
    if (ring_ready) io_uring_queue_exit(&ring);
    if (buffer_ring != nullptr) munmap(buffer_ring, buffer_ring_bytes);
  }
  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) {  // submission queue full: hand the queued requests over first
      io_uring_submit(&ring);
      sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
  }
  char* Buffer(uint32_t id) {
    return storage.get() + size_t{id} * http_worker_internal::kUringBufferSize;
  }
  void Return(uint32_t id) {
    io_uring_buf_ring_add(buffer_ring, Buffer(id), http_worker_internal::kUringBufferSize,
                          static_cast<uint16_t>(id), io_uring_buf_ring_mask(buffers), returned++);
  }
  void Flush() {
    if (returned > 0) io_uring_buf_ring_advance(buffer_ring, returned);
    returned = 0;
  }
};

}  // namespace rcbench::loadgen
