#pragma once

// One shared-nothing HTTP load worker: a thread-owned event loop driving its share of every
// class's sockets (S-Client, open-loop or closed-loop), parsing responses with Boost.Beast's
// http::response_parser, and counting results in its own ClassCounters.
//
// Two socket engines drive the same connection state machine:
//  - epoll (default): edge-triggered readiness, one send and one recv system call per request.
//  - io_uring: the worker's own ring (single issuer, deferred task work). Sends are queued as
//    SQEs, every connection keeps one multishot receive armed into a shared provided-buffer
//    ring, and one io_uring_enter per loop turn submits the turn's sends and reaps its
//    completions. Connect completion is a one-shot poll.
//
// Steady state allocates nothing per request: connection slots, request bytes, the parser's
// header storage (a per-connection arena) and the read buffer are all made up front.
//
// Thread safety: Run() is called once, on the worker's own thread. Collect() may be called
// from any thread at any time; it takes the worker's mutex, which the loop holds while it
// processes one batch of events.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "loadgen/stats.h"
#include "loadgen/workload.h"

namespace rcbench::loadgen {

// A worker's share of one class.
struct WorkerClassPlan {
  const ClassSpec* spec = nullptr;
  // Index of the class in the run (position in Collect()'s vector).
  size_t class_index = 0;
  // Sockets this worker keeps (S-Client/closed loop) or may open at most (open loop).
  uint32_t sockets = 0;
  // Open loop: this worker's share of the arrival rate, and where its schedule starts
  // relative to the run's start (staggers constant-rate workers).
  double rate_rps = 0;
  int64_t start_offset_ns = 0;
};

// Splits every class of `spec` over `workers` workers (sockets and rate as evenly as possible).
std::vector<std::vector<WorkerClassPlan>> PlanWorkers(const RunSpec& spec, uint32_t workers);

// OK when this kernel lets the io_uring engine run (Linux 6.1+, io_uring not disabled by
// kernel.io_uring_disabled or a seccomp filter); otherwise why not, naming --io epoll.
absl::Status IoUringSupport();

class HttpWorker {
 public:
  // Requests whose scheduled time passed by more than this before the loop could send them
  // count as late_send (open loop).
  static constexpr int64_t kLateThresholdNs = 1'000'000;

  HttpWorker(std::vector<WorkerClassPlan> plans, size_t num_classes, const Clock* clock,
             uint64_t seed, IoEngine io = IoEngine::kEpoll, uint32_t io_batch = 1,
             int64_t io_batch_wait_ns = 200'000);
  ~HttpWorker();
  HttpWorker(const HttpWorker&) = delete;
  HttpWorker& operator=(const HttpWorker&) = delete;

  // Runs until `stop` is set or the monotonic clock reaches `end_ns`; then closes every
  // socket. Returns an error only when the worker cannot start (epoll, or io_uring missing
  // from the kernel or disabled by kernel.io_uring_disabled).
  absl::Status Run(const std::atomic<bool>& stop, int64_t start_ns, int64_t end_ns);

  // Adds this worker's counters since the previous call into `into` (indexed by class) and
  // resets them.
  void Collect(std::vector<ClassCounters>* into);

 private:
  struct Conn;
  struct ClassRuntime;
  struct Uring;

  // The connection state machine and the loop's timers, shared by both engines
  // (http_worker.cc).
  void StartConnect(Conn* c, int64_t now);
  void OnEvent(Conn* c, uint32_t events, int64_t now);
  void OnConnected(Conn* c, int64_t now);
  void BeginRequest(Conn* c, int64_t now);
  void ContinueWrite(Conn* c, int64_t now);
  bool OnData(Conn* c, const char* data, size_t n, int64_t now);
  void OnPeerClosed(Conn* c, int64_t now);
  void CloseIdle(Conn* c, int64_t now);
  void AfterEvents(int64_t now, int64_t* next_scan);
  bool Feed(Conn* c, const char* data, size_t n, int64_t now);
  void Complete(Conn* c, int64_t now);
  void Fail(Conn* c, int kind, int64_t now);
  void CloseSocket(Conn* c);
  void AfterClose(Conn* c, int64_t now);
  void Dispatch(ClassRuntime* cls, int64_t intended, int64_t now);
  void OpenLoopTick(ClassRuntime* cls, int64_t now);
  void UseIdleOrFree(Conn* c, int64_t now);
  void ScanTimers(int64_t now);
  uint64_t NextRandom();
  int64_t NextGap(ClassRuntime* cls);
  // epoll engine (http_worker_epoll.cc). A turn waits up to `timeout_ns` for events, handles
  // them and then the timers; it fails only when the wait itself fails.
  absl::Status SetUpEpoll();
  absl::Status EpollTurn(int64_t timeout_ns, int64_t* next_scan);
  void OnReadable(Conn* c, int64_t now);
  // io_uring engine (http_worker_uring.cc); a turn as for epoll.
  absl::Status SetUpUring();
  absl::Status UringTurn(int64_t timeout_ns, int64_t* next_scan);
  void ArmReceive(Conn* c);
  void OnCompletion(uint64_t user_data, int32_t res, uint32_t flags, int64_t now);

  const Clock* clock_;
  uint64_t rng_;
  const IoEngine io_;
  // io_uring: completions to wait for per wake-up (already capped at half the sockets), and
  // the longest extra wait for them.
  const uint32_t io_batch_;
  const int64_t io_batch_wait_ns_;
  int epoll_fd_ = -1;
  std::unique_ptr<Uring> uring_;
  std::vector<std::unique_ptr<ClassRuntime>> classes_;
  std::unique_ptr<Conn[]> conns_;
  size_t num_conns_ = 0;
  std::unique_ptr<char[]> read_buffer_;

  std::mutex mu_;
  std::vector<ClassCounters> counters_;  // guarded by mu_; indexed by class_index
};

}  // namespace rcbench::loadgen
