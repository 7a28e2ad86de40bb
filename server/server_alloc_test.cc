// Serving a keep-alive request allocates nothing in steady state: this binary replaces the
// global operator new to count the allocations made by the server's loop thread, so it is a
// test binary of its own.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "server/testing/http_client.h"
#include "server/testing/running_server.h"

namespace {
std::atomic<std::thread::id> g_counted_thread{};
std::atomic<size_t> g_counted_allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (std::this_thread::get_id() == g_counted_thread.load(std::memory_order_relaxed)) {
    g_counted_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace rcbench::server {
namespace {

using testing::HttpClient;
using testing::RunningServer;

// `rounds` requests on each of four keep-alive connections; allocations by the loop thread.
size_t AllocationsFor(RunningServer& s, std::vector<HttpClient>& clients, int rounds) {
  g_counted_allocations.store(0);
  g_counted_thread.store(s.thread_id());
  for (int i = 0; i < rounds; ++i) {
    for (auto& c : clients) {
      auto r = c.Get("/index.html");
      EXPECT_TRUE(r.ok() && r->status == 200);
    }
  }
  g_counted_thread.store(std::thread::id());
  return g_counted_allocations.load();
}

TEST(ServerAllocTest, KeepAliveRequestsAllocateNothingInSteadyState) {
  RunningServer s({});
  ASSERT_TRUE(s.ok());
  std::vector<HttpClient> clients;
  for (int i = 0; i < 4; ++i) {
    auto c = HttpClient::Connect(s.address());
    ASSERT_TRUE(c.ok());
    clients.push_back(*std::move(c));
  }
  AllocationsFor(s, clients, 20);  // warm up: buffers, parser vectors, pooled connections
  EXPECT_EQ(AllocationsFor(s, clients, 50), 0u) << "allocations by the loop for 200 requests";
}

}  // namespace
}  // namespace rcbench::server
