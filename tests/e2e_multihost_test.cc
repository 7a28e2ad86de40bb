// Privileged: the smoke matrix across network namespaces. rcbench-server and rcbench-agent run
// in one namespace, rcbench-loadgen in another, the controller in the root namespace; the test
// creates the namespaces and three veth pairs (root<->server, root<->client for gRPC, and
// server<->client for the load) and removes them on every path. No namespace has a default
// route, so nothing can leave.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/store.h"
#include "tests/e2e_util.h"

namespace rcbench::e2e {
namespace {

int Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// Namespaces and veths named rcb<role><pid>; removed (with their veths) on destruction.
class Topology {
 public:
  Topology() : id_(std::to_string(getpid())) {}
  ~Topology() {
    Sh("ip netns del " + srv());
    Sh("ip netns del " + cli());
    Sh("ip link del rcbrs" + id_);
    Sh("ip link del rcbrc" + id_);
  }
  std::string srv() const { return "rcbs" + id_; }
  std::string cli() const { return "rcbc" + id_; }
  bool Create() {
    const std::string s = srv(), c = cli();
    std::vector<std::string> cmds = {
        "ip netns add " + s,
        "ip netns add " + c,
        "ip link add rcbrs" + id_ + " type veth peer name rcbs0" + id_ + " netns " + s,
        "ip link add rcbrc" + id_ + " type veth peer name rcbc0" + id_ + " netns " + c,
        "ip -n " + s + " link add rcbsl" + id_ + " type veth peer name rcbcl" + id_ + " netns " + c,
        "ip addr add 10.231.0.1/30 dev rcbrs" + id_,
        "ip link set rcbrs" + id_ + " up",
        "ip addr add 10.231.0.5/30 dev rcbrc" + id_,
        "ip link set rcbrc" + id_ + " up",
        "ip -n " + s + " addr add 10.231.0.2/30 dev rcbs0" + id_,
        "ip -n " + s + " link set rcbs0" + id_ + " up",
        "ip -n " + s + " addr add 10.231.0.9/29 dev rcbsl" + id_,
        "ip -n " + s + " link set rcbsl" + id_ + " up",
        "ip -n " + s + " link set lo up",
        "ip -n " + c + " addr add 10.231.0.6/30 dev rcbc0" + id_,
        "ip -n " + c + " link set rcbc0" + id_ + " up",
        "ip -n " + c + " addr add 10.231.0.10/29 dev rcbcl" + id_,
        "ip -n " + c + " addr add 10.231.0.11/29 dev rcbcl" + id_,
        "ip -n " + c + " link set rcbcl" + id_ + " up",
        "ip -n " + c + " link set lo up",
    };
    for (const auto& cmd : cmds) {
      if (Sh(cmd) != 0) {
        error_ = cmd;
        return false;
      }
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  std::string id_;
  std::string error_;
};

// This test's own container root; every hierarchy's copy (and what is left under it) is
// removed on destruction, deepest first.
class CgroupRoot {
 public:
  explicit CgroupRoot(std::string name) : name_(std::move(name)) {}
  ~CgroupRoot() {
    std::error_code ec;
    for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
      std::filesystem::path top = h.path() / name_;
      if (!std::filesystem::exists(top, ec)) continue;
      std::vector<std::filesystem::path> dirs;
      for (const auto& d : std::filesystem::recursive_directory_iterator(top, ec)) {
        if (d.is_directory(ec)) dirs.push_back(d.path());
      }
      std::sort(dirs.begin(), dirs.end(),
                [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
      for (const auto& d : dirs) rmdir(d.c_str());
      rmdir(top.c_str());
    }
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// A child process in a network namespace (nsenter execs in place: the pid is the binary's).
class NsChild {
 public:
  NsChild(const std::string& ns, std::vector<std::string> argv, const std::string& log) {
    // nsenter enters only the network namespace; `ip netns exec` would also remount /sys,
    // hiding the cgroup hierarchies from the agent and the server.
    std::vector<std::string> full = {"/usr/bin/nsenter", "--net=/run/netns/" + ns};
    full.insert(full.end(), argv.begin(), argv.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "w");
      if (f != nullptr) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      std::vector<char*> c;
      for (auto& a : full) c.push_back(a.data());
      c.push_back(nullptr);
      execv(c[0], c.data());
      _exit(127);
    }
  }
  ~NsChild() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) usleep(50000);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

std::string WaitForKey(const std::string& ready, const std::string& key) {
  for (int i = 0; i < 200; ++i) {
    for (absl::string_view line : absl::StrSplit(ReadFile(ready), '\n')) {
      if (absl::ConsumePrefix(&line, key + "=")) return std::string(line);
    }
    usleep(50000);
  }
  return "";
}

TEST(MultiHostE2eTest, SmokeMatrixCompletesAcrossNamespaces) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  if (Sh("ip netns list") != 0) GTEST_SKIP() << "no iproute2 with netns support";
  if (access("/usr/bin/nsenter", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/nsenter (util-linux)";
  TempDir dir("e2e-multihost");
  CgroupRoot root("rcbench-ctl" + std::to_string(getpid()));
  Topology topo;
  ASSERT_TRUE(topo.Create()) << "failed: " << topo.error();

  const std::string bin = BinDir();
  {
    std::ofstream cfg(dir / "agent.yaml");
    cfg << "interval: 500ms\n"
        << "root: " << root.name() << "\n"
        << "services:\n"
        << "  rcbench-server:\n"
        << "    command: [\"" << bin << "/rcbench-server\", \"--die-with-parent\"]\n"
        << "    args: [\"--[a-z-]+\", \"[A-Za-z0-9_.:=,%/-]+\"]\n"
        << "    ready_file_flag: --ready-file\n";
  }
  NsChild agent(
      topo.srv(),
      {bin + "/rcbench-agent", "--listen", "10.231.0.2:0", "--metrics-listen", "10.231.0.2:0",
       "--config", dir / "agent.yaml", "--ready-file", dir / "agent.ready", "--die-with-parent"},
      dir / "agent.log");
  NsChild loadgen(
      topo.cli(),
      {bin + "/rcbench-loadgen", "serve", "--listen", "10.231.0.6:0", "--metrics-listen",
       "10.231.0.6:0", "--allow-target", "10.231.0.8/29", "--max-duration", "2m", "--ready-file",
       dir / "loadgen.ready", "--die-with-parent"},
      dir / "loadgen.log");
  std::string agent_addr = WaitForKey(dir / "agent.ready", "grpc");
  std::string loadgen_addr = WaitForKey(dir / "loadgen.ready", "grpc");
  ASSERT_FALSE(agent_addr.empty()) << ReadFile(dir / "agent.log");
  ASSERT_FALSE(loadgen_addr.empty()) << ReadFile(dir / "loadgen.log");

  // The smoke experiment with the hosts filled in.
  std::string smoke = ReadFile(SourceDir() + "/experiments/smoke.yaml");
  std::string hosts =
      absl::StrCat("hosts:\n  agents: [{name: srv, address: \"", agent_addr,
                   "\"}]\n  loadgens: [{name: cli, address: \"", loadgen_addr, "\"}]\n");
  size_t at = smoke.find("server:\n");
  ASSERT_NE(at, std::string::npos);
  smoke.insert(at, hosts);
  smoke.replace(smoke.find("server:\n"), 8, "server:\n  agent: srv\n  listen: 10.231.0.9\n");
  smoke.replace(smoke.find("name: smoke"), 11, "name: smoke_multihost");
  // The classes' client addresses live in the client namespace here.
  for (auto [from, to] : {std::pair<std::string, std::string>{"127.0.0.2", "10.231.0.10"},
                          {"127.0.0.3", "10.231.0.11"}}) {
    for (size_t p = smoke.find(from); p != std::string::npos; p = smoke.find(from, p)) {
      smoke.replace(p, from.size(), to);
    }
  }
  // The server's kernel containers go under this test's own root.
  size_t args = smoke.find("\"--arch\"");
  ASSERT_NE(args, std::string::npos);
  smoke.insert(args, "\"--container-root\", \"" + root.name() + "\", ");
  {
    std::ofstream spec(dir / "multihost.yaml");
    spec << smoke;
  }
  Result r =
      RunRcbench({"run", dir / "multihost.yaml", "--db", dir / "rcbench.db"}, dir / "run.log");
  ASSERT_EQ(r.exit_code, 0) << r.output << "\nagent:\n"
                            << ReadFile(dir / "agent.log") << "\nloadgen:\n"
                            << ReadFile(dir / "loadgen.log");
  auto store = *controller::SqliteResultStore::Open(dir / "rcbench.db");
  auto runs = *store->ListRuns("smoke_multihost");
  ASSERT_EQ(runs.size(), 8u);
  for (const auto& run : runs) {
    ASSERT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store->GetResults(run.run_id(), false);
    ASSERT_EQ(results.classes_size(), 2);
    for (const auto& c : results.classes()) EXPECT_GT(c.throughput_rps(), 0) << c.class_name();
    ASSERT_EQ(results.hosts_size(), 1);
  }
}

}  // namespace
}  // namespace rcbench::e2e
