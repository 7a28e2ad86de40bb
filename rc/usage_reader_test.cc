#include "rc/usage_reader.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/container.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::rc {
namespace {

using testing::FakeCgroupTree;
using ::testing::HasSubstr;

std::unique_ptr<ContainerSystem> OpenOn(const FakeCgroupTree& tree) {
  ContainerSystem::Options options;
  options.fs = tree.fs();
  return *ContainerSystem::Open(options);
}

TEST(RcUsageReaderTest, RereadsKeptOpenFilesWithoutReopening) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto rc = OpenOn(tree);
  ASSERT_TRUE(rc->Create("web").ok());
  auto reader = UsageReader::Open(*rc, "web");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->open_files(), 8u);
  tree.Write("/sys/fs/cgroup/cpuacct/rcbench/web/cpuacct.usage", "123456\n");
  tree.Write("/sys/fs/cgroup/pids/rcbench/web/pids.current", "9\n");
  auto u = (*reader)->Read();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->cpu_usage_ns, 123456u);
  EXPECT_EQ(u->pids_current, 9u);
}

TEST(RcUsageReaderTest, AgreesWithContainerReadUsageOnV2) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  auto rc = OpenOn(tree);
  auto c = rc->Create("web");
  ASSERT_TRUE(c.ok());
  tree.Write("/sys/fs/cgroup/rcbench/web/cpu.stat",
             "usage_usec 50\nuser_usec 30\nsystem_usec 20\nnr_periods 1\nnr_throttled 1\n"
             "throttled_usec 4\n");
  auto reader = UsageReader::Open(*rc, "web");
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto a = (*reader)->Read();
  auto b = c->ReadUsage();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->cpu_usage_ns, 50'000u);
  EXPECT_EQ(a->cpu_usage_ns, b->cpu_usage_ns);
  EXPECT_EQ(a->cpu_throttled_ns, b->cpu_throttled_ns);
  EXPECT_EQ(a->available, b->available);
}

TEST(RcUsageReaderTest, WorkingSetExcludesInactiveFilePages) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto rc = OpenOn(tree);
  ASSERT_TRUE(rc->Create("web").ok());
  tree.Write("/sys/fs/cgroup/memory/rcbench/web/memory.usage_in_bytes", "10000\n");
  tree.Write("/sys/fs/cgroup/memory/rcbench/web/memory.stat",
             "cache 4000\nrss 6000\ninactive_file 1\ntotal_inactive_file 3000\n");
  auto u = (*UsageReader::Open(*rc, "web"))->Read();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->memory_working_set_bytes, 7000u);
}

TEST(RcUsageReaderTest, WithoutWorkingSetMemoryStatIsNotRead) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto rc = OpenOn(tree);
  ASSERT_TRUE(rc->Create("web").ok());
  tree.Write("/sys/fs/cgroup/memory/rcbench/web/memory.usage_in_bytes", "10000\n");
  tree.Write("/sys/fs/cgroup/memory/rcbench/web/memory.stat", "garbage");
  auto reader = UsageReader::Open(*rc, "web", {.working_set = false});
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->open_files(), 7u);
  EXPECT_EQ((*reader)->Read()->memory_working_set_bytes, 10000u);
}

TEST(RcUsageReaderTest, LongFilesAreReadWhole) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  auto rc = OpenOn(tree);
  ASSERT_TRUE(rc->Create("web").ok());
  std::string stat;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&stat, "field_", i, " ", i, "\n");
  absl::StrAppend(&stat, "inactive_file 5\n");
  tree.Write("/sys/fs/cgroup/rcbench/web/memory.current", "105\n");
  tree.Write("/sys/fs/cgroup/rcbench/web/memory.stat", stat);
  auto u = (*UsageReader::Open(*rc, "web"))->Read();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->memory_working_set_bytes, 100u);
}

TEST(RcUsageReaderTest, MalformedFileFailsAtOpen) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto rc = OpenOn(tree);
  ASSERT_TRUE(rc->Create("web").ok());
  tree.Write("/sys/fs/cgroup/memory/rcbench/web/memory.usage_in_bytes", "\n");
  auto reader = UsageReader::Open(*rc, "web");
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reader.status().message(), HasSubstr("memory.usage_in_bytes"));
}

TEST(RcUsageReaderTest, MissingContainerIsNotFound) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto rc = OpenOn(tree);
  EXPECT_EQ(UsageReader::Open(*rc, "nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rcbench::rc
