// Steady state allocates nothing per request: the process counts every operator new, runs a
// short and a longer keep-alive and connection-per-request load against a server in a child
// process (so only the generator's allocations are counted), and compares. Its own binary,
// because it replaces the global operator new.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "common/clock.h"
#include "loadgen/http_worker.h"
#include "loadgen/load_run.h"
#include "loadgen/testing/test_http_server.h"
#include "loadgen/workload.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace rcbench::loadgen {
namespace {

// An HTTP server in a forked child; killed in the destructor.
class ChildServer {
 public:
  ChildServer() {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      testing::TestHttpServer server;
      const uint16_t port = server.port();
      if (write(fds[1], &port, sizeof(port)) != sizeof(port)) _exit(1);
      pause();
      _exit(0);
    }
    close(fds[1]);
    EXPECT_EQ(read(fds[0], &port_, sizeof(port_)), static_cast<ssize_t>(sizeof(port_)));
    close(fds[0]);
  }
  ~ChildServer() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

struct Outcome {
  uint64_t allocations;
  uint64_t requests;
};

Outcome Run(const std::string& url, bool keep_alive, int64_t duration_ms,
            rcbench::v1::IoEngine io) {
  rcbench::v1::Workload w;
  w.set_io_engine(io);
  w.mutable_duration()->set_nanos(static_cast<int32_t>(duration_ms * 1'000'000));
  w.mutable_stats_interval()->set_seconds(10);  // no interval reports inside the window
  w.set_threads(1);
  auto* c = w.add_http_classes();
  c->set_name("c");
  c->set_target(url);
  c->set_keep_alive(keep_alive);
  c->set_linger_zero(!keep_alive);
  c->mutable_closed_loop()->set_connections(4);
  auto spec = ValidateWorkload(w, AllowList(), int64_t{10} * 1'000'000'000);
  EXPECT_TRUE(spec.ok());
  const uint64_t before = g_allocations.load();
  auto run = LoadRun::Start(*std::move(spec), "alloc", RealClock::Get());
  EXPECT_TRUE(run.ok());
  (*run)->Wait();
  const uint64_t after = g_allocations.load();
  const auto totals = (*run)->Totals();
  return {after - before, totals[0].requests_ok()};
}

void ExpectNoAllocationPerRequest(bool keep_alive,
                                  rcbench::v1::IoEngine io = rcbench::v1::IO_ENGINE_EPOLL) {
  ChildServer server;
  const Outcome short_run = Run(server.url(), keep_alive, 100, io);
  const Outcome long_run = Run(server.url(), keep_alive, 500, io);
  ASSERT_GT(long_run.requests, short_run.requests + 500) << "the load did not run";
  // Set-up and the final report allocate the same in both runs; a per-request allocation
  // would add hundreds more to the longer one.
  EXPECT_LT(static_cast<double>(long_run.allocations) - short_run.allocations,
            0.02 * static_cast<double>(long_run.requests - short_run.requests))
      << "short: " << short_run.allocations << " allocations for " << short_run.requests
      << " requests; long: " << long_run.allocations << " for " << long_run.requests;
}

TEST(HttpEngineAllocationTest, KeepAliveRequestsDoNotAllocate) {
  ExpectNoAllocationPerRequest(true);
}

TEST(HttpEngineAllocationTest, ConnectionPerRequestDoesNotAllocate) {
  ExpectNoAllocationPerRequest(false);
}

TEST(HttpEngineAllocationTest, IoUringKeepAliveRequestsDoNotAllocate) {
  if (!IoUringSupport().ok()) GTEST_SKIP() << IoUringSupport().message();
  ExpectNoAllocationPerRequest(true, rcbench::v1::IO_ENGINE_IO_URING);
}

TEST(HttpEngineAllocationTest, IoUringConnectionPerRequestDoesNotAllocate) {
  if (!IoUringSupport().ok()) GTEST_SKIP() << IoUringSupport().message();
  ExpectNoAllocationPerRequest(false, rcbench::v1::IO_ENGINE_IO_URING);
}

}  // namespace
}  // namespace rcbench::loadgen
