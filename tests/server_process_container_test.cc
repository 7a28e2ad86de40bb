// Privileged: the real rcbench-server runs in a process container of its own,
// <root>/server-PID/main (below the container it was started in, if any), with containers off (the
// unmodified system: the process is the principal) and on (per-class containers beside it), so its
// CPU is measured in both modes at <root>/server-PID; nothing is left behind after SIGTERM.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/testing/http_client.h"
#include "tests/server_process.h"

namespace rcbench::server {
namespace {

namespace fs = std::filesystem;
using testing::HttpClient;
using testing::ServerProcess;

std::string RootName() { return "rcbench-proctest-" + std::to_string(getpid()); }

// v1 when a v1 hierarchy carries cpu (rc's choice on hybrid hosts), else v2.
bool V1() { return fs::exists("/sys/fs/cgroup/cpu/cpu.shares"); }

std::optional<std::string> Unusable() {
  if (geteuid() != 0) return "needs root to create cgroups";
  if (!V1() && !fs::exists("/sys/fs/cgroup/cgroup.controllers")) {
    return "needs a cgroup cpu controller (v1 cpu hierarchy or v2)";
  }
  return std::nullopt;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Host directory of `path` (relative to the test's root subtree) in the cpu accounting
// hierarchy.
fs::path UsageDir(const std::string& path) {
  return fs::path(V1() ? "/sys/fs/cgroup/cpuacct" : "/sys/fs/cgroup") / RootName() / path;
}

double CpuSeconds(const std::string& path) {
  if (V1()) {
    std::ifstream in(UsageDir(path) / "cpuacct.usage");
    double ns = -1;
    in >> ns;
    return ns * 1e-9;
  }
  std::istringstream in(ReadText(UsageDir(path) / "cpu.stat"));
  std::string key;
  double usec = -1;
  while (in >> key >> usec) {
    if (key == "usage_usec") return usec * 1e-6;
  }
  return -1;
}

// The cgroup of thread `tid` of `pid` in the cpu hierarchy, relative to its mount.
std::string CpuCgroupOf(pid_t pid, const std::string& tid) {
  std::istringstream in(
      ReadText(fs::path("/proc") / std::to_string(pid) / "task" / tid / "cgroup"));
  for (std::string line; std::getline(in, line);) {
    size_t a = line.find(':');
    size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    bool match = V1() ? controllers.find(",cpu,") != std::string::npos : controllers == ",,";
    if (match) return line.substr(b + 1);
  }
  return "";
}

std::vector<std::string> Threads(pid_t pid) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "task")) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

std::vector<fs::path> RootDirs() {
  std::vector<fs::path> out;
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", ""}) {
    fs::path p = fs::path("/sys/fs/cgroup") / h / RootName();
    if (fs::exists(p)) out.push_back(p);
  }
  return out;
}

// Removes what a failed test left (once its server is gone), deepest first.
void RemoveLeftovers() {
  for (const fs::path& root : RootDirs()) {
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory()) dirs.push_back(it->path());
    }
    for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) rmdir(d->c_str());
    rmdir(root.c_str());
  }
}

class ServerProcessContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = Unusable()) GTEST_SKIP() << *why;
  }
  void TearDown() override {
    // Checked here, after each test's server is gone, whatever the test's outcome.
    bool left = !RootDirs().empty();
    RemoveLeftovers();
    EXPECT_FALSE(left) << "cgroups named " << RootName() << " left behind";
  }

  // Sends `n` requests from `source` and expects 200 for each.
  static void Load(const std::string& http, const std::string& source, int n) {
    auto c = HttpClient::Connect(http, source);
    ASSERT_TRUE(c.ok()) << c.status();
    for (int i = 0; i < n; ++i) {
      auto r = c->Get("/");
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->status, 200);
    }
  }
};

TEST_F(ServerProcessContainerTest, ContainersOffRunsEveryThreadInTheProcessContainer) {
  ServerProcess p({"--containers", "off", "--arch", "threads", "--threads", "2", "--container-root",
                   RootName(), "--log-level", "warning"});
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  const std::string process_container =
      "/" + RootName() + "/server-" + std::to_string(p.pid()) + "/main";
  std::vector<std::string> tids = Threads(p.pid());
  EXPECT_GE(tids.size(), 3u) << "acceptor and two workers";
  for (const std::string& tid : tids)
    EXPECT_EQ(CpuCgroupOf(p.pid(), tid), process_container) << tid;
  EXPECT_EQ(p.Stop(), 0) << p.Stderr();
}

TEST_F(ServerProcessContainerTest, ContainersOffChargesTheServersCpuToItsContainer) {
  ServerProcess p({"--containers", "off", "--request-cpu", "2ms", "--container-root", RootName(),
                   "--log-level", "warning"});
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  const std::string server = "server-" + std::to_string(p.pid());
  double before = CpuSeconds(server);
  ASSERT_GE(before, 0) << "no usage file in " << UsageDir(server);
  Load(p.value("http"), "127.0.0.1", 200);  // at least 0.4 s of CPU
  double used = CpuSeconds(server) - before;
  EXPECT_GT(used, 0.35) << "CPU charged to " << server;
  EXPECT_NEAR(CpuSeconds(server + "/main") - before, used, 0.05) << "all of it in main";
  EXPECT_EQ(p.Stop(), 0) << p.Stderr();
}

// With containers on the class containers sit below the same server-PID, so the server's
// total is the same row as with containers off.
TEST_F(ServerProcessContainerTest, ContainersOnChargesClassWorkBelowTheSameServerContainer) {
  ServerProcess p({"--containers", "on", "--arch", "threads", "--threads", "1", "--class",
                   "high=127.0.0.2/32,weight=400", "--request-cpu", "2ms", "--container-root",
                   RootName(), "--log-level", "warning"});
  ASSERT_TRUE(p.WaitReady()) << p.Stderr();
  const std::string server = "server-" + std::to_string(p.pid());
  const std::string high = server + (V1() ? "/class-high" : "/main/class-high");
  double server_before = CpuSeconds(server);
  double high_before = CpuSeconds(high);
  ASSERT_GE(high_before, 0) << "no usage file in " << UsageDir(high);
  Load(p.value("http"), "127.0.0.2", 200);
  double server_used = CpuSeconds(server) - server_before;
  double high_used = CpuSeconds(high) - high_before;
  EXPECT_GT(high_used, 0.35);
  EXPECT_GE(server_used, high_used) << "the server's total includes its class containers";
  EXPECT_EQ(p.Stop(), 0) << p.Stderr();
}

// Moves this process into `dir`'s cgroup in every v1 hierarchy it names, and back where it was
// when destroyed, so that a server started meanwhile starts inside `dir` (as an agent's would).
class InsideContainer {
 public:
  explicit InsideContainer(const std::string& dir) {
    std::istringstream in(ReadText("/proc/self/cgroup"));
    for (std::string line; std::getline(in, line);) {
      size_t a = line.find(':');
      size_t b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string controllers = line.substr(a + 1, b - a - 1);
      for (const char* h : {"cpu", "cpuacct", "memory", "pids"}) {
        if (("," + controllers + ",").find(std::string(",") + h + ",") == std::string::npos) {
          continue;
        }
        fs::path mount = fs::path("/sys/fs/cgroup") / h;
        if (!fs::exists(mount)) continue;
        back_.push_back(mount / line.substr(b + 1).substr(1) / "cgroup.procs");
        fs::create_directories(mount / RootName() / dir);
        std::ofstream(mount / RootName() / dir / "cgroup.procs") << getpid() << "\n";
      }
    }
  }
  ~InsideContainer() {
    for (const fs::path& procs : back_) std::ofstream(procs) << getpid() << "\n";
  }

 private:
  std::vector<fs::path> back_;
};

// An agent starts the server inside a container of the spec's (`server.container`); the
// server's subtree goes below it, so that container's usage includes the server's.
TEST_F(ServerProcessContainerTest, StartedInsideAContainerItsSubtreeGoesBelowThatContainer) {
  if (!V1())
    GTEST_SKIP() << "cgroup v2 enables controllers for children only in a cgroup "
                    "without processes, so there the subtree goes to the top (logged)";
  std::optional<ServerProcess> p;
  {
    InsideContainer inside("outer");
    p.emplace(std::vector<std::string>{"--containers", "off", "--request-cpu", "2ms",
                                       "--container-root", RootName(), "--log-level", "warning"});
  }
  ASSERT_TRUE(p->WaitReady()) << p->Stderr();
  const std::string server = "outer/server-" + std::to_string(p->pid());
  for (const std::string& tid : Threads(p->pid())) {
    EXPECT_EQ(CpuCgroupOf(p->pid(), tid), "/" + RootName() + "/" + server + "/main") << tid;
  }
  double outer_before = CpuSeconds("outer");
  Load(p->value("http"), "127.0.0.1", 200);
  EXPECT_GT(CpuSeconds("outer") - outer_before, 0.35) << "the server's CPU, charged to outer";
  EXPECT_EQ(p->Stop(), 0) << p->Stderr();
  EXPECT_FALSE(fs::exists(UsageDir(server))) << "the server removes its own subtree";
  for (const fs::path& root : RootDirs()) {
    rmdir((root / "outer").c_str());
    rmdir(root.c_str());
  }
}

}  // namespace
}  // namespace rcbench::server
