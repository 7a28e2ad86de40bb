// Privileged: with containers on and --cgi-cpu-limit 30%, CGI children together get 30% ± 5
// points of a CPU while static requests keep being served (the paper's §5.6 set-up).

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/testing/wait_for.h"
#include "server/testing/http_client.h"
#include "tests/server_process.h"

namespace rcbench::server {
namespace {

using testing::FindMetric;
using testing::HttpClient;
using testing::ServerProcess;

std::string RootName() { return "rcbench-srvtest-" + std::to_string(getpid()); }

bool CgroupsWritable() {
  namespace fs = std::filesystem;
  return geteuid() == 0 && (fs::exists("/sys/fs/cgroup/cpu/cpu.shares") ||
                            fs::exists("/sys/fs/cgroup/cgroup.controllers"));
}

bool Leftovers() {
  namespace fs = std::filesystem;
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", ""}) {
    if (fs::exists(fs::path("/sys/fs/cgroup") / h / RootName())) return true;
  }
  return false;
}

double CgiCpuSeconds(const std::string& http) {
  auto c = HttpClient::Connect(http);
  if (!c.ok()) return -1;
  auto r = c->Get("/metrics");
  if (!r.ok()) return -1;
  return FindMetric(r->body,
                    "rcbench_server_container_cpu_seconds_total{accounting=\"kernel\","
                    "container=\"cgi\"}")
      .value_or(-1);
}

TEST(ServerCgiLimitTest, CgiChildrenStayWithinTheirCpuLimitWhileStaticIsServed) {
  if (!CgroupsWritable()) GTEST_SKIP() << "needs root and a writable cgroup cpu controller";
  {
    ServerProcess p({"--containers", "on", "--cgi-cpu-limit", "30%", "--container-root", RootName(),
                     "--cgi-timeout", "60s", "--log-level", "warning"});
    ASSERT_TRUE(p.WaitReady()) << p.Stderr();
    const std::string http = p.value("http");

    // Four CGI requests that would each burn 60 s of CPU: far more than the limit allows.
    std::vector<HttpClient> cgi;
    for (int i = 0; i < 4; ++i) {
      auto c = HttpClient::Connect(http);
      ASSERT_TRUE(c.ok()) << c.status();
      ASSERT_TRUE(c->Send("GET /cgi-bin/spin?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n").ok());
      cgi.push_back(*std::move(c));
    }
    std::atomic<bool> stop{false};
    std::atomic<int> served{0};
    std::thread client([&] {
      auto c = HttpClient::Connect(http);
      if (!c.ok()) return;
      while (!stop.load()) {
        auto r = c->Get("/");
        if (!r.ok() || r->status != 200) break;
        served.fetch_add(1);
      }
    });
    ASSERT_TRUE(rcbench::testing::WaitFor([&] { return CgiCpuSeconds(http) > 0; },
                                          std::chrono::seconds(5), "the CGI children to start")
                    .ok());
    double cpu0 = CgiCpuSeconds(http);
    auto t0 = std::chrono::steady_clock::now();
    // A measurement window, not a wait for a condition.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    double cpu1 = CgiCpuSeconds(http);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int served_during = served.load();
    stop.store(true);
    client.join();

    ASSERT_GE(cpu0, 0);
    double share = (cpu1 - cpu0) / wall;
    RecordProperty("cgi_cpu_share", std::to_string(share));
    std::cout << "CGI CPU share " << share << ", static requests served " << served_during << "\n";
    EXPECT_NEAR(share, 0.30, 0.05) << "CGI CPU " << (cpu1 - cpu0) << " s over " << wall << " s";
    EXPECT_GT(served_during, 100) << "static requests served while the CGI ran";
    EXPECT_EQ(p.Stop(), 0) << p.Stderr();
  }
  EXPECT_FALSE(Leftovers()) << "cgroups named " << RootName() << " left behind";
}

// Threads arch: each class's worker threads sit in that class's kernel container.
TEST(ServerCgiLimitTest, ThreadsArchBindsWorkersToTheirClassContainers) {
  if (!CgroupsWritable()) GTEST_SKIP() << "needs root and a writable cgroup cpu controller";
  if (!std::filesystem::exists("/sys/fs/cgroup/cpu/cpu.shares")) {
    GTEST_SKIP() << "checks the v1 cpu hierarchy's tasks files";
  }
  {
    ServerProcess p({"--containers", "on", "--arch", "threads", "--threads", "2", "--class",
                     "high=127.0.0.2/32,weight=400", "--container-root", RootName(), "--log-level",
                     "warning"});
    ASSERT_TRUE(p.WaitReady()) << p.Stderr();
    auto c = HttpClient::Connect(p.value("http"), "127.0.0.2");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->Get("/").ok());
    std::string dir = "/sys/fs/cgroup/cpu/" + RootName() + "/server-" + std::to_string(p.pid());
    std::ifstream shares(dir + "/class-high/cpu.shares");
    int value = 0;
    shares >> value;
    EXPECT_EQ(value, 4096);
    std::ifstream tasks(dir + "/class-high/tasks");
    int n = 0;
    for (std::string line; std::getline(tasks, line);) ++n;
    EXPECT_EQ(n, 2) << "two worker threads of class high";
    EXPECT_EQ(p.Stop(), 0) << p.Stderr();
  }
  EXPECT_FALSE(Leftovers()) << "cgroups named " << RootName() << " left behind";
}

}  // namespace
}  // namespace rcbench::server
