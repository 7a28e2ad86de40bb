// Privileged: local mode with `network: namespaces` through the real binaries. The controller
// makes its own namespaces (rcbs<pid>, rcbc<pid>), runs a short experiment with a spoofed SYN
// flood from the client namespace, and must leave no namespace or veth behind: after a normal
// end and after SIGTERM. A stale topology of the same name is cleaned up by the next Create().

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/wait_for.h"
#include "controller/netns_topology.h"
#include "controller/store.h"
#include "tests/e2e_util.h"

namespace rcbench::e2e {
namespace {

// The namespaces and root-side veths a controller with this pid would make.
std::vector<std::string> Leftovers(const std::string& id) {
  std::vector<std::string> left;
  std::string netns = Capture("ip netns list 2>/dev/null");
  std::string links = Capture("ip -o link show 2>/dev/null");
  for (const std::string& name : {"rcbs" + id, "rcbc" + id}) {
    if (absl::StrContains(netns, name + " ") || absl::StrContains(netns, name + "\n")) {
      left.push_back("netns " + name);
    }
  }
  for (const std::string& name : {"rcbrs" + id, "rcbrc" + id}) {
    if (absl::StrContains(links, " " + name + "@") || absl::StrContains(links, " " + name + ":")) {
      left.push_back("link " + name);
    }
  }
  return left;
}

// Namespace teardown finishes asynchronously in the kernel once the last process left.
std::vector<std::string> LeftoversAfterSettling(const std::string& id) {
  std::vector<std::string> left;
  (void)rcbench::testing::WaitFor(
      [&] {
        left = Leftovers(id);
        return left.empty();
      },
      std::chrono::seconds(2), "no namespace or veth of " + id, std::chrono::milliseconds(50));
  return left;
}

// Removes what a test's controller may have left, whatever happened.
class TopologyGuard {
 public:
  void Watch(pid_t pid) { ids_.push_back(std::to_string(pid)); }
  ~TopologyGuard() {
    for (const auto& id : ids_) {
      std::system(("ip netns del rcbs" + id + " 2>/dev/null; ip netns del rcbc" + id +
                   " 2>/dev/null; ip link del rcbrs" + id + " 2>/dev/null; ip link del rcbrc" + id +
                   " 2>/dev/null")
                      .c_str());
    }
  }

 private:
  std::vector<std::string> ids_;
};

constexpr char kSpec[] = R"(name: netns_e2e
network: namespaces
server:
  args: ["--arch", "event", "--containers", "off"]
factors:
  syn_rate: [0, 20000]
order: sequential
phases: {setup: 0s, warmup: 500ms, measure: MEASURE, cooldown: 0s}
sysctls:
  net.ipv4.tcp_syncookies: "1"
load:
  threads: 1
  stats_interval: 250ms
  classes:
    - {name: good, mode: closed_loop, connections: 2, keep_alive: false}
  syn_flood:
    spoof_cidr: 10.99.0.0/16
    rate_pps: "{{syn_rate}}"
    senders: 1
record: [classes, host_facts]
host_facts_sysctls: [net.ipv4.tcp_syncookies]
)";

class NetnsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
    if (std::system("ip netns list >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `ip netns`";
    if (access("/usr/bin/nsenter", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/nsenter";
  }
  std::string WriteSpec(const TempDir& dir, const std::string& measure) {
    std::string spec = kSpec;
    spec.replace(spec.find("MEASURE"), 7, measure);
    std::ofstream(dir / "netns.yaml") << spec;
    return dir / "netns.yaml";
  }
  TopologyGuard guard_;
};

TEST_F(NetnsE2eTest, FloodExperimentCompletesAndLeavesNoNamespaceBehind) {
  TempDir dir("e2e-netns");
  auto controller = StartRcbench({"run", WriteSpec(dir, "1s"), "--db", dir / "rcbench.db",
                                  "--work-dir", dir / "work", "--log-level", "info"},
                                 LoggedInSourceTree(dir / "run.log"));
  ASSERT_TRUE(controller.ok()) << controller.status();
  const pid_t pid = (*controller)->pid();
  guard_.Watch(pid);
  absl::StatusOr<int> code = (*controller)->Wait(kRcbenchBound);
  const std::string log = ReadFile(dir / "run.log");
  ASSERT_TRUE(code.ok() && *code == 0)
      << (code.ok() ? absl::StrCat("exit code ", *code) : code.status().ToString()) << "\n"
      << log << "\nloadgen:\n"
      << ReadFile(dir / "work/loadgen.log") << "\nserver:\n"
      << ReadFile(dir / "work/server.log");
  EXPECT_TRUE(LeftoversAfterSettling(std::to_string(pid)).empty());

  auto store = *controller::SqliteResultStore::Open(dir / "rcbench.db");
  auto runs = *store->ListRuns("netns_e2e");
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& run : runs) {
    ASSERT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store->GetResults(run.run_id(), false);
    double good = 0, flood = 0;
    for (const auto& c : results.classes()) {
      if (c.class_name() == "good") good = c.throughput_rps();
      if (c.class_name() == "syn-flood") flood = c.throughput_rps();
    }
    EXPECT_GT(good, 0) << "the good client reached the server across the namespaces";
    if (run.factors().at("syn_rate") == "0") {
      EXPECT_EQ(flood, 0) << "rate 0 means no flood";
    } else {
      EXPECT_GT(flood, 10000) << "the flood ran at about its rate";
    }
    // The sysctl was set in the server's namespace (the agent runs there).
    ASSERT_EQ(results.hosts_size(), 1);
    EXPECT_EQ(results.hosts(0).sysctls().at("net.ipv4.tcp_syncookies"), "1");
  }
}

TEST_F(NetnsE2eTest, SigtermRemovesTheNamespaces) {
  TempDir dir("e2e-netns-term");
  auto controller = StartRcbench(
      {"run", WriteSpec(dir, "30s"), "--db", dir / "rcbench.db", "--work-dir", dir / "work"},
      LoggedInSourceTree(dir / "run.log"));
  ASSERT_TRUE(controller.ok()) << controller.status();
  guard_.Watch((*controller)->pid());
  const std::string id = std::to_string((*controller)->pid());
  // Wait for the topology and the server (the run's load is on).
  const absl::Status up = rcbench::testing::WaitFor(
      [&] {
        return Leftovers(id).size() == 4 &&
               access((dir / "work/server-1.ready").c_str(), R_OK) == 0;
      },
      std::chrono::seconds(15), "the namespaces and the server", std::chrono::milliseconds(50));
  ASSERT_TRUE(up.ok()) << up << "\n" << ReadFile(dir / "run.log");
  absl::StatusOr<int> code = (*controller)->Stop(kRcbenchBound);
  EXPECT_TRUE(code.ok() && *code == 130)
      << (code.ok() ? absl::StrCat("exit code ", *code) : code.status().ToString()) << "\n"
      << ReadFile(dir / "run.log");
  EXPECT_TRUE(LeftoversAfterSettling(id).empty());
}

TEST_F(NetnsE2eTest, StaleTopologyOfTheSameNameIsReplaced) {
  const std::string id = std::to_string(getpid());
  guard_.Watch(getpid());
  // What a SIGKILLed controller with this pid would have left.
  ASSERT_EQ(std::system(("ip netns add rcbs" + id + " && ip netns add rcbc" + id +
                         " && ip link add rcbrs" + id + " type veth peer name rcbs0" + id +
                         " netns rcbs" + id)
                            .c_str()),
            0);
  auto tools = controller::FindNetnsTools();
  ASSERT_TRUE(tools.ok()) << tools.status();
  controller::SubprocessCommandRunner runner;
  {
    controller::NetnsTopology topology(id, {"10.99.0.0/16"}, *tools, runner, getpid());
    absl::Status s = topology.Create();
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(Leftovers(id).size(), 4u);
    std::string routes = Capture("ip -n rcbc" + id + " route show");
    EXPECT_TRUE(absl::StrContains(routes, "blackhole 10.99.0.0/16")) << routes;
    EXPECT_FALSE(absl::StrContains(routes, "default")) << routes;
  }
  EXPECT_TRUE(LeftoversAfterSettling(id).empty());
}

}  // namespace
}  // namespace rcbench::e2e
