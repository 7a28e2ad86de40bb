#include "agent/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

using ::testing::HasSubstr;

TEST(ParseAgentConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseAgentConfig("", "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->root, "rcbench");
  EXPECT_EQ(c->interval, std::chrono::seconds(1));
  EXPECT_EQ(c->retention, std::chrono::minutes(10));
  EXPECT_TRUE(c->services.empty());
}

TEST(ParseAgentConfigTest, FullConfigParses) {
  auto c = ParseAgentConfig(R"yaml(
root: bench
interval: 100ms
retention: 2m
max_retained_bytes: 64MiB
host: node1
sockets: false
sysctls:
  allow: [net.ipv4.tcp_syncookies, net.core.somaxconn]
services:
  server:
    command: [/usr/bin/rcbench-server, --listen, "127.0.0.1:0"]
    args: ["--arch=(event|threads)"]
    container: server/main
    ready_file_flag: --ready-file
    env: {RCBENCH_X: "1"}
)yaml",
                            "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->root, "bench");
  EXPECT_EQ(c->interval, std::chrono::milliseconds(100));
  EXPECT_EQ(c->max_retained_bytes, 64ull << 20);
  EXPECT_FALSE(c->sockets);
  EXPECT_EQ(c->sysctl_allow.size(), 2u);
  const ServiceSpec& s = c->services.at("server");
  EXPECT_EQ(s.command[0], "/usr/bin/rcbench-server");
  EXPECT_EQ(s.container, "server/main");
  EXPECT_EQ(s.ready_file_flag, "--ready-file");
  EXPECT_EQ(s.env.at("RCBENCH_X"), "1");
}

TEST(ParseAgentConfigTest, SocketsIntervalDefaultsToOneSecondAndParses) {
  EXPECT_EQ(ParseAgentConfig("", "a.yaml")->sockets_interval, std::chrono::seconds(1));
  EXPECT_EQ(ParseAgentConfig("sockets_interval: 0\n", "a.yaml")->sockets_interval,
            std::chrono::nanoseconds(0));
}

TEST(ParseAgentConfigTest, UnknownKeyIsNamedWithItsLine) {
  auto c = ParseAgentConfig("root: x\nintervall: 1s\n", "agent.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("agent.yaml:2:1: intervall: unknown key"));
}

TEST(ParseAgentConfigTest, IntervalBelowTenMillisecondsIsRejected) {
  auto c = ParseAgentConfig("interval: 1ms\n", "a.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("a.yaml:1:11: interval"));
}

TEST(ParseAgentConfigTest, WrongTypeAndMalformedYamlNameFileLineAndColumn) {
  EXPECT_THAT(ParseAgentConfig("root: x\nsockets: [1]\n", "a.yaml").status().message(),
              HasSubstr("a.yaml:2:10: sockets: expected true or false"));
  EXPECT_THAT(ParseAgentConfig("root: [x\n", "a.yaml").status().message(),
              HasSubstr("a.yaml:2:1: YAML syntax error"));
}

TEST(ParseAgentConfigTest, RelativeServiceCommandIsRejected) {
  auto c = ParseAgentConfig("services:\n  s:\n    command: [sh, -c, x]\n", "a.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("absolute path"));
}

TEST(ParseAgentConfigTest, BadArgumentPatternIsRejected) {
  auto c =
      ParseAgentConfig("services:\n  s:\n    command: [/bin/true]\n    args: ['(']\n", "a.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("regular expression"));
}

TEST(ParseAgentConfigTest, ServiceContainerEscapingTheSubtreeIsRejected) {
  auto c = ParseAgentConfig("services:\n  s:\n    command: [/bin/true]\n    container: ../../x\n",
                            "a.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseAgentConfigTest, MalformedSysctlNameIsRejected) {
  auto c = ParseAgentConfig("sysctls:\n  allow: [../../etc/passwd]\n", "a.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseAgentConfigTest, YamlSyntaxErrorIsInvalidArgument) {
  auto c = ParseAgentConfig("root: [unclosed\n", "a.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("a.yaml"));
}

TEST(ParseAgentConfigTest, WrongTypeIsInvalidArgument) {
  auto c = ParseAgentConfig("sockets: maybe\n", "a.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("sockets"));
}

TEST(LoadAgentConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadAgentConfig("/nonexistent.yaml").status().code(), absl::StatusCode::kNotFound);
}

TEST(ParseAgentConfigTest, InputLimitsHaveDefaultsAndCanBeSet) {
  auto d = ParseAgentConfig("", "agent.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->service_limits.max_arg_bytes, 4096u);
  EXPECT_EQ(d->service_limits.max_args, 256u);
  EXPECT_EQ(d->max_open_cgroup_files, 0u);
  auto c = ParseAgentConfig(
      "max_service_arg_bytes: 100\nmax_service_args: 3\nmax_open_cgroup_files: 700\n",
      "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->service_limits.max_arg_bytes, 100u);
  EXPECT_EQ(c->service_limits.max_args, 3u);
  EXPECT_EQ(c->max_open_cgroup_files, 700u);
}

TEST(ParseAgentConfigTest, OutOfRangeInputLimitIsAnErrorNamingTheKey) {
  auto c = ParseAgentConfig("max_service_arg_bytes: 0\n", "agent.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      c.status().message(),
      HasSubstr("agent.yaml:1:24: max_service_arg_bytes: expected an integer in [1, 1048576]"));
}

TEST(ParseAgentConfigTest, OverlongArgumentPatternIsRefusedBeforeCompiling) {
  std::string yaml =
      "services:\n  s:\n    command: [/bin/true]\n    args: [\"" + std::string(2000, 'a') + "\"]\n";
  auto c = ParseAgentConfig(yaml, "agent.yaml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("a pattern of 2000 bytes; the limit is 1024"));
}

}  // namespace
}  // namespace rcbench::agent
