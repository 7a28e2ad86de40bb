#include "agent/cli.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::agent {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<AgentFlags> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "rcbench-agent");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseAgentFlags(static_cast<int>(argv.size()), argv.data());
}

TEST(ParseAgentFlagsTest, AcceptsTheConventionFlags) {
  auto f = Parse({"--listen", "127.0.0.1:0", "--metrics-listen=127.0.0.1:0", "--interval", "100ms",
                  "--root", "bench", "--ready-file", "/tmp/r", "--die-with-parent"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(*f->interval, std::chrono::milliseconds(100));
  EXPECT_EQ(*f->root, "bench");
  EXPECT_EQ(f->ready_file, "/tmp/r");
  EXPECT_TRUE(f->die_with_parent);
}

TEST(ParseAgentFlagsTest, ErrorsNameTheFlag) {
  EXPECT_THAT(Parse({"--interval", "fast"}).status().message(), HasSubstr("--interval"));
  EXPECT_THAT(Parse({"--interval", "1ms"}).status().message(), HasSubstr("10ms"));
  EXPECT_THAT(Parse({"--listen", "nowhere"}).status().message(), HasSubstr("--listen"));
  EXPECT_THAT(Parse({"--root", "../x"}).status().message(), HasSubstr("--root"));
  EXPECT_THAT(Parse({"--listen"}).status().message(),
              HasSubstr("--listen needs a value: host:port"));
  EXPECT_THAT(Parse({"--what"}).status().message(), HasSubstr("unknown flag --what"));
}

TEST(ParseAgentFlagsTest, SnapshotTakesJson) {
  auto f = Parse({"snapshot", "--json"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->snapshot);
  EXPECT_TRUE(f->json);
  EXPECT_FALSE(Parse({"--json"}).ok());
}

TEST(TakeSnapshotTest, FakeTreeSnapshotPrintsEveryContainer) {
  rc::testing::FakeCgroupTree tree(rc::testing::FakeCgroupTree::Kind::kV1);
  tree.WriteUsage("rcbench/web");
  auto f =
      Parse({"snapshot", "--cgroup-base", tree.root() + "/sys/fs/cgroup", "--cgroup-mode", "v1"});
  ASSERT_TRUE(f.ok()) << f.status();
  auto config = ResolveConfig(*f);
  ASSERT_TRUE(config.ok());
  auto report = TakeSnapshot(*config, *f);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->containers_size(), 2);
  EXPECT_THAT(FormatReportTable(*report), HasSubstr("web"));
  EXPECT_THAT(FormatReportJson(*report), HasSubstr("\"cpu_usage_ns\":\"1000000\""));
}

}  // namespace
}  // namespace rcbench::agent
