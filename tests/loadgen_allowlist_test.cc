// The allow-list refuses targets outside it before anything is sent. Each case runs the real
// binary inside a fresh network namespace that has only `lo`, so nothing could leave even if
// the check were broken; the namespace's lo counters show nothing was sent at all.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/loadgen_netns_util.h"

namespace rcbench::loadgen::testing {
namespace {

using ::testing::HasSubstr;

class AllowListRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveRootAndIp()) GTEST_SKIP() << "needs root, iproute2 and unshare";
    binary_ = LoadgenBinary();
    if (binary_.empty()) GTEST_SKIP() << "rcbench-loadgen not built (RCBENCH_BIN_DIR)";
  }

  // Runs `args` in a fresh namespace with lo up; prints lo's tx packets before and after.
  CommandResult RunIsolated(const std::string& args) {
    // /proc/net/dev is per namespace (sysfs still shows the host's); field 10 is tx packets.
    const std::string tx = "set -- $(sed -n \"s/^ *lo: *//p\" /proc/net/dev); ";
    const std::string script = "ip link set lo up; " + tx + "echo tx_before=${10}; " + binary_ +
                               " " + args + "; rc=$?; " + tx + "echo tx_after=${10}; exit $rc";
    return RunCommand("unshare --net sh -c '" + script + "'");
  }

  std::string binary_;
};

TEST_F(AllowListRefusalTest, HttpTargetOutsideTheListIsRefusedAndNothingIsSent) {
  const auto r = RunIsolated("http -c 4 -d 1s http://192.0.2.1:80/");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("192.0.2.1 is not in the allow-list"));
  EXPECT_THAT(r.output, HasSubstr("tx_before=0"));
  EXPECT_THAT(r.output, HasSubstr("tx_after=0"));
}

TEST_F(AllowListRefusalTest, SynFloodTargetOutsideTheListIsRefusedAndNothingIsSent) {
  const auto r = RunIsolated("syn --target 192.0.2.1:80 --spoof 10.99.0.0/16 -d 1s");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("not in the allow-list"));
  EXPECT_THAT(r.output, HasSubstr("tx_after=0"));
}

TEST_F(AllowListRefusalTest, Ipv6TargetOutsideTheListIsRefused) {
  const auto r = RunIsolated("http -d 1s http://[2001:db8::1]:80/");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("2001:db8::1 is not in the allow-list"));
  EXPECT_THAT(r.output, HasSubstr("tx_after=0"));
}

TEST_F(AllowListRefusalTest, ConfigClassOutsideTheListIsRefused) {
  const std::string cfg =
      ::testing::TempDir() + "/loadgen_allow_" + std::to_string(getpid()) + ".yaml";
  RunCommand(
      "printf 'duration: 1s\\nclasses:\\n  - name: a\\n    target: http://198.51.100.9:80\\n"
      "    mode: closed\\n    connections: 1\\n' > " +
      cfg);
  const auto r = RunIsolated("classes --config " + cfg);
  std::remove(cfg.c_str());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("198.51.100.9 is not in the allow-list"));
  EXPECT_THAT(r.output, HasSubstr("tx_after=0"));
}

TEST_F(AllowListRefusalTest, AllowTargetFlagWidensTheList) {
  // Allowed now, so it tries: inside the empty namespace the network is unreachable, which
  // shows the refusal above came from the allow-list and not from the namespace.
  const auto r = RunIsolated(
      "http -t 1 -c 1 -d 300ms --allow-target 192.0.2.0/24 --json http://192.0.2.1:80/");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"end_reason\":\"duration\""));
}

}  // namespace
}  // namespace rcbench::loadgen::testing
