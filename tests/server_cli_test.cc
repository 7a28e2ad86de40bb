// The rcbench-server binary as the controller drives it: flags, ready file, signals.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/testing/wait_for.h"
#include "server/testing/http_client.h"
#include "tests/server_process.h"

namespace rcbench::server {
namespace {

using testing::HttpClient;
using testing::ServerProcess;

TEST(ServerCliTest, HelpExitsZero) {
  ServerProcess p({"--help"});
  EXPECT_EQ(p.Wait(), 0);
}

TEST(ServerCliTest, BadFlagExitsTwoNamingTheFlag) {
  ServerProcess p({"--arch", "fibers"});
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(p.Stderr().find("--arch"), std::string::npos) << p.Stderr();
}

TEST(ServerCliTest, UnbindableListenerExitsNonZeroSayingWhy) {
  ServerProcess p({"--listen", "192.0.2.1:0"});  // TEST-NET address: not on this host
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.Stderr().find("listen on 192.0.2.1:0"), std::string::npos) << p.Stderr();
}

TEST(ServerCliTest, ReadyFileListsEveryListenerAndSigtermStopsCleanly) {
  ServerProcess p({"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--containers",
                   "off", "--log-level", "warning"});
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  EXPECT_EQ(p.value("pid"), std::to_string(p.pid()));
  ASSERT_FALSE(p.value("http").empty());
  ASSERT_FALSE(p.value("metrics").empty());
  auto c = HttpClient::Connect(p.value("http"));
  ASSERT_TRUE(c.ok()) << c.status();
  auto r = c->Get("/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  auto m = HttpClient::Connect(p.value("metrics"));
  ASSERT_TRUE(m.ok()) << m.status();
  auto mr = m->Get("/metrics");
  ASSERT_TRUE(mr.ok()) << mr.status();
  EXPECT_NE(mr->body.find("rcbench_server_requests_total"), std::string::npos);
  EXPECT_EQ(p.Stop(), 0) << p.Stderr();
}

TEST(ServerCliTest, ThreadsArchServesFromTheCli) {
  ServerProcess p({"--arch", "threads", "--threads", "2", "--log-level", "warning"});
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  for (int i = 0; i < 4; ++i) {
    auto c = HttpClient::Connect(p.value("http"));
    ASSERT_TRUE(c.ok());
    auto r = c->Get("/");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(p.Stop(), 0);
}

// User + system CPU seconds of process `pid` so far.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Issue #14: at the descriptor limit accept() fails with EMFILE while the connection stays
// queued; the server used to retry at once, spinning a core and logging ~22 MB/s.
TEST(ServerCliTest, OutOfDescriptorsTheServerBacksOffKeepsServingAndRecovers) {
#ifdef RCBENCH_SANITIZED
  GTEST_SKIP() << "the sanitizers' own descriptors and CPU cost distort a 32-descriptor limit";
#endif
  ServerProcess p({"--log-level", "info"}, /*max_open_files=*/32);
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  auto existing = HttpClient::Connect(p.value("http"));
  ASSERT_TRUE(existing.ok()) << existing.status();
  ASSERT_EQ(existing->Get("/").value_or(testing::HttpResponse{}).status, 200);

  // More connections than the server has descriptors: the kernel completes them all, the
  // server cannot accept the rest.
  std::vector<HttpClient> extra;
  for (int i = 0; i < 64; ++i) {
    auto c = HttpClient::Connect(p.value("http"));
    ASSERT_TRUE(c.ok()) << i << ": " << c.status();
    extra.push_back(std::move(*c));
  }
  const std::string kFdLimit = "rcbench_server_accept_errors_total{reason=\"fd_limit\"}";
  absl::Status scrape = absl::OkStatus();
  const absl::Status limited = rcbench::testing::WaitFor(
      [&] {
        auto m = existing->Get("/metrics");
        if (!m.ok()) {
          scrape = m.status();
          return true;
        }
        const std::optional<double> errors = testing::FindMetric(m->body, kFdLimit);
        return errors && *errors > 0;
      },
      std::chrono::seconds(5), "the server to reach its descriptor limit",
      std::chrono::milliseconds(20));
  ASSERT_TRUE(scrape.ok()) << scrape;
  ASSERT_TRUE(limited.ok()) << limited;

  const double cpu_before = ProcessCpuSeconds(p.pid());
  // A measurement window, not a wait for a condition: the CPU a spinning accept loop would burn.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double cpu = ProcessCpuSeconds(p.pid()) - cpu_before;
  EXPECT_LT(cpu, 0.3) << "CPU seconds used in 2 s at the descriptor limit";
  EXPECT_LT(p.Stderr().size(), 8192u) << p.Stderr().substr(0, 2000);

  // The open connection is still served while new ones wait.
  auto during = existing->Get("/healthz");
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(during->status, 200);

  // Descriptors come back: new connections are served again.
  extra.clear();
  EXPECT_TRUE(rcbench::testing::WaitFor(
                  [&] {
                    auto c = HttpClient::Connect(p.value("http"));
                    if (!c.ok()) return false;
                    auto r = c->Get("/");
                    return r.ok() && r->status == 200;
                  },
                  std::chrono::seconds(5), "a new connection to be served again")
                  .ok());
  EXPECT_EQ(p.Stop(), 0) << p.Stderr().substr(0, 2000);
}

}  // namespace
}  // namespace rcbench::server
