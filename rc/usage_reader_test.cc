#include "rc/usage_reader.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/container.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::rc {
namespace {

using ::testing::ElementsAre;
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

TEST(RcUsageReaderTest, MalformedKeyedFileIsNamedWithItsLine) {
  // Parsing runs without the file's name first; the error must still name file and line.
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto rc = OpenOn(tree);
  ASSERT_TRUE(rc->Create("web").ok());
  tree.Write("/sys/fs/cgroup/memory/rcbench/web/memory.stat", "cache 1\ntotal_inactive_file x\n");
  auto reader = UsageReader::Open(*rc, "web");
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reader.status().message(),
              HasSubstr("/sys/fs/cgroup/memory/rcbench/web/memory.stat: line 2"));
}

TEST(RcUsageReaderTest, MissingContainerIsNotFound) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto rc = OpenOn(tree);
  EXPECT_EQ(UsageReader::Open(*rc, "nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(RcUsageReaderTest, ReadsIoAndHybridPsiFromTheUnifiedDirectory) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  testing::FakeUsage f;
  tree.WriteUsage("rcbench/web", f);
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok());
  auto u = (*UsageReader::Open(*tree.fs(), *layout, "web"))->Read();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->io_read_bytes, f.read_bytes);
  EXPECT_EQ(u->io_write_ops, f.write_ops);
  EXPECT_EQ(u->cpu_pressure->some_total_us, f.psi_some_us);
  EXPECT_EQ(u->io_pressure->full_total_us, f.psi_full_us);
  EXPECT_THAT(u->available, ElementsAre("cpu", "memory", "pids", "io", "psi"));
}

TEST(RcUsageReaderTest, V1SplitFromCpuacctStatConvertsTicksToNanoseconds) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  testing::FakeUsage f;
  f.cpu_user_us = 2'000'000;  // 200 ticks
  f.cpu_system_us = 500'000;  // 50 ticks
  tree.WriteUsage("rcbench/db", f);
  tree.Write("/sys/fs/cgroup/cpuacct/rcbench/db/cpuacct.usage_user", "1\n");
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok());
  auto reader =
      UsageReader::Open(*tree.fs(), *layout, "db", {.v1_cpu_split_from_cpuacct_stat = true});
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto u = (*reader)->Read();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->cpu_usage_ns, f.cpu_usage_us * 1000);
  EXPECT_EQ(u->cpu_user_ns, 2'000'000'000ull * 100 / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(u->cpu_system_ns, 500'000'000ull * 100 / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(u->cpu_throttled_ns, f.throttled_us * 1000);
  EXPECT_EQ(u->memory_working_set_bytes, f.memory_bytes - f.inactive_file_bytes);
}

TEST(RcUsageReaderTest, PartialReadLeavesOutOnlyTheGroupsWhoseFilesAreMalformed) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  tree.WriteUsage("rcbench/a");
  tree.Write("/sys/fs/cgroup/rcbench/a/cpu.stat", "usage_usec twelve\n");
  tree.Write("/sys/fs/cgroup/rcbench/a/pids.current", "max\n");
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok());
  EXPECT_FALSE(UsageReader::Open(*tree.fs(), *layout, "a").ok());  // strict
  auto reader = UsageReader::Open(*tree.fs(), *layout, "a", {.partial = true});
  ASSERT_TRUE(reader.ok()) << reader.status();
  Usage u;
  PartialRead r;
  (*reader)->ReadPartial(&u, &r);
  EXPECT_THAT(u.available, ElementsAre("memory", "io", "psi"));
  EXPECT_EQ(r.malformed, 2u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_FALSE(r.gone);
  EXPECT_EQ(u.memory_usage_bytes, testing::FakeUsage().memory_bytes);
}

TEST(RcUsageReaderTest, PartialReadOfABareDirectoryReportsNothingAndNoErrors) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  tree.WriteUsage("rcbench/a");
  tree.Write("/sys/fs/cgroup/cpu/rcbench/bare/cpu.stat",
             "nr_periods 1\nnr_throttled 0\nthrottled_time 0\n");
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok());
  auto reader = UsageReader::Open(*tree.fs(), *layout, "bare", {.partial = true});
  ASSERT_TRUE(reader.ok());
  Usage u;
  PartialRead r;
  (*reader)->ReadPartial(&u, &r);
  EXPECT_TRUE(u.available.empty());
  EXPECT_EQ(u.cpu_periods, 1u);
  EXPECT_EQ(r.files_read, 1u);
  EXPECT_EQ(r.malformed + r.failed, 0u);
}

TEST(RcUsageReaderTest, FilesBeyondTheBudgetAreReadWithTheSameValuesAndRemovalIsNoticed) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  tree.WriteUsage("rcbench/a");
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok());
  OpenFileBudget budget{.limit = 3};
  auto reader = UsageReader::Open(*tree.fs(), *layout, "a", {.partial = true, .budget = &budget});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->open_files(), 3u);
  EXPECT_EQ(budget.open, 3u);
  Usage u;
  PartialRead r;
  (*reader)->ReadPartial(&u, &r);
  EXPECT_THAT(u.available, ElementsAre("cpu", "memory", "pids", "io", "psi"));
  EXPECT_EQ(r.preads, 3u);
  EXPECT_GT(r.reopens, 0u);
  tree.RemoveDirs("rcbench/a");
  (*reader)->ReadPartial(&u, &r);
  EXPECT_TRUE(r.gone);
  reader->reset();
  EXPECT_EQ(budget.open, 0u);
}

}  // namespace
}  // namespace rcbench::rc
