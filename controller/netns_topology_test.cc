#include "controller/netns_topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace rcbench::controller {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Records every command; fails the ones containing `fail_on`.
class FakeCommandRunner : public CommandRunner {
 public:
  absl::Status Run(const std::vector<std::string>& argv) override {
    std::string line = absl::StrJoin(argv, " ");
    commands.push_back(line);
    if (!fail_on.empty() && absl::StrContains(line, fail_on)) {
      return absl::InternalError("`" + line + "` failed (exit 2): RTNETLINK answers: no");
    }
    return absl::OkStatus();
  }
  std::vector<std::string> commands;
  std::string fail_on;
};

class NetnsTopologyTest : public ::testing::Test {
 protected:
  NetnsTools tools_{"/sbin/ip", "/usr/bin/nsenter"};
  FakeCommandRunner runner_;
};

TEST_F(NetnsTopologyTest, NamesCarryTheId) {
  NetnsTopology t("4242", {}, tools_, runner_, 0);
  EXPECT_EQ(t.server_ns(), "rcbs4242");
  EXPECT_EQ(t.client_ns(), "rcbc4242");
  EXPECT_EQ(t.root_interfaces(), (std::vector<std::string>{"rcbrs4242", "rcbrc4242"}));
}

TEST_F(NetnsTopologyTest, CreateRemovesAStaleTopologyOfTheSameNamesFirst) {
  NetnsTopology t("4242", {}, tools_, runner_, 0);
  ASSERT_TRUE(t.Create().ok());
  ASSERT_GE(runner_.commands.size(), 3u);
  EXPECT_EQ(runner_.commands[0], "/sbin/ip netns del rcbs4242");
  EXPECT_EQ(runner_.commands[1], "/sbin/ip netns del rcbc4242");
  EXPECT_EQ(runner_.commands[2], "/sbin/ip link del rcbrs4242");
}

TEST_F(NetnsTopologyTest, SpoofedPrefixIsRoutedToTheClientsBlackhole) {
  NetnsTopology t("7", {"10.99.0.0/16"}, tools_, runner_, 0);
  ASSERT_TRUE(t.Create().ok());
  EXPECT_THAT(runner_.commands,
              Contains("/sbin/ip -n rcbs7 route add 10.99.0.0/16 via 10.213.0.2 dev rcbsd7"));
  EXPECT_THAT(runner_.commands, Contains("/sbin/ip -n rcbc7 route add blackhole 10.99.0.0/16"));
}

TEST_F(NetnsTopologyTest, NoNamespaceGetsADefaultRoute) {
  NetnsTopology t("7", {"10.99.0.0/16"}, tools_, runner_, 0);
  ASSERT_TRUE(t.Create().ok());
  for (const auto& c : runner_.commands) {
    EXPECT_FALSE(absl::StrContains(c, "default")) << c;
  }
}

TEST_F(NetnsTopologyTest, LoopbackIsUpInBothNamespaces) {
  NetnsTopology t("7", {}, tools_, runner_, 0);
  ASSERT_TRUE(t.Create().ok());
  EXPECT_THAT(runner_.commands, Contains("/sbin/ip -n rcbs7 link set lo up"));
  EXPECT_THAT(runner_.commands, Contains("/sbin/ip -n rcbc7 link set lo up"));
}

TEST_F(NetnsTopologyTest, ControlAddressesComeFromTheSlot) {
  NetnsTopology t("7", {}, tools_, runner_, 33);  // 33 * 8 = 264 = 1.8
  EXPECT_EQ(t.server_control_address(), "10.214.1.10");
  EXPECT_EQ(t.client_control_address(), "10.214.1.14");
}

TEST_F(NetnsTopologyTest, FailedCommandRemovesWhatWasMadeAndNamesTheCommand) {
  runner_.fail_on = "peer name rcbc07";
  NetnsTopology t("7", {}, tools_, runner_, 0);
  absl::Status s = t.Create();
  EXPECT_THAT(std::string(s.message()), HasSubstr("peer name rcbc07"));
  EXPECT_FALSE(t.created());
  EXPECT_EQ(runner_.commands.back(), "/sbin/ip link del rcbrc7");
  EXPECT_EQ(runner_.commands[runner_.commands.size() - 4], "/sbin/ip netns del rcbs7");
}

TEST_F(NetnsTopologyTest, DestroyIsIdempotent) {
  NetnsTopology t("7", {}, tools_, runner_, 0);
  ASSERT_TRUE(t.Create().ok());
  t.Destroy();
  size_t after_first = runner_.commands.size();
  t.Destroy();
  EXPECT_EQ(runner_.commands.size(), after_first);
  EXPECT_EQ(runner_.commands.back(), "/sbin/ip link del rcbrc7");
}

TEST_F(NetnsTopologyTest, DestructorRemovesTheNamespaces) {
  {
    NetnsTopology t("7", {}, tools_, runner_, 0);
    ASSERT_TRUE(t.Create().ok());
    runner_.commands.clear();
  }
  EXPECT_THAT(runner_.commands, Contains("/sbin/ip netns del rcbs7"));
  EXPECT_THAT(runner_.commands, Contains("/sbin/ip netns del rcbc7"));
}

TEST_F(NetnsTopologyTest, BadSpoofPrefixIsRefusedBeforeAnyCommand) {
  NetnsTopology t("7", {"127.0.0.0/16"}, tools_, runner_, 0);
  EXPECT_EQ(t.Create().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(runner_.commands.empty());
}

TEST_F(NetnsTopologyTest, ChildrenEnterOnlyTheNetworkNamespace) {
  NetnsTopology t("7", {}, tools_, runner_, 0);
  EXPECT_EQ(
      t.InNamespace(t.client_ns(), {"/bin/x", "-a"}),
      (std::vector<std::string>{"/usr/bin/nsenter", "--net=/var/run/netns/rcbc7", "/bin/x", "-a"}));
}

TEST(CheckSpoofPrefixTest, AcceptsAPrivatePrefixOutsideTheTestbed) {
  EXPECT_TRUE(CheckSpoofPrefix("10.99.0.0/16").ok());
}

TEST(CheckSpoofPrefixTest, RefusesAPrefixContainingTheControlRange) {
  EXPECT_THAT(std::string(CheckSpoofPrefix("10.0.0.0/8").message()), HasSubstr("overlaps"));
}

TEST(SubprocessCommandRunnerTest, FailureCarriesExitCodeAndOutput) {
  SubprocessCommandRunner r;
  absl::Status s = r.Run({"/bin/sh", "-c", "echo nope >&2; exit 3"});
  EXPECT_THAT(std::string(s.message()), HasSubstr("(exit 3): nope"));
  EXPECT_TRUE(r.Run({"/bin/true"}).ok());
}

}  // namespace
}  // namespace rcbench::controller
