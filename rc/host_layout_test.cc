#include "rc/host_layout.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::rc {
namespace {

using testing::FakeCgroupTree;
using ::testing::HasSubstr;

TEST(RcHostLayoutTest, HybridHostUsesV1BackendWithSeparateCpuAndCpuacct) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->mode, CgroupMode::kHybrid);
  EXPECT_EQ(layout->backend, BackendKind::kV1);
  EXPECT_EQ(layout->ForController("cpu")->mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(layout->ForController("cpuacct")->mount_point, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(layout->Primary().subtree_dir, "/sys/fs/cgroup/cpu/rcbench");
  EXPECT_EQ(layout->mounts.at("unified"), "/sys/fs/cgroup/unified");
  EXPECT_EQ(layout->Managed().size(), 4u);
}

TEST(RcHostLayoutTest, V1HostHasNoUnifiedMount) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->mode, CgroupMode::kV1);
  EXPECT_EQ(layout->Unified(), nullptr);
}

TEST(RcHostLayoutTest, V2HostUsesV2BackendForEveryController) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->mode, CgroupMode::kV2);
  EXPECT_EQ(layout->backend, BackendKind::kV2);
  EXPECT_EQ(layout->ForController("memory")->mount_point, "/sys/fs/cgroup");
  EXPECT_EQ(layout->Primary().subtree_dir, "/sys/fs/cgroup/rcbench");
}

TEST(RcHostLayoutTest, UsageFilesPointIntoTheRightHierarchies) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok());
  UsageFiles f = layout->UsageFilesFor("web/a");
  EXPECT_EQ(f.cpuacct_usage, "/sys/fs/cgroup/cpuacct/rcbench/web/a/cpuacct.usage");
  EXPECT_EQ(f.cpu_stat, "/sys/fs/cgroup/cpu/rcbench/web/a/cpu.stat");
  EXPECT_EQ(f.memory_current, "/sys/fs/cgroup/memory/rcbench/web/a/memory.usage_in_bytes");
  EXPECT_EQ(f.cpuacct_stat, "/sys/fs/cgroup/cpuacct/rcbench/web/a/cpuacct.stat");
  EXPECT_EQ(f.blkio_bytes,
            "/sys/fs/cgroup/blkio/rcbench/web/a/blkio.throttle.io_service_bytes_recursive");
  // PSI exists only in cgroup2: on a hybrid host, in the container's unified directory.
  EXPECT_EQ(f.cpu_pressure, "/sys/fs/cgroup/unified/rcbench/web/a/cpu.pressure");
}

TEST(RcHostLayoutTest, V1HostHasNoPsiFiles) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok());
  EXPECT_TRUE(layout->UsageFilesFor("web").cpu_pressure.empty());
}

TEST(RcHostLayoutTest, LayoutBelowDirectoryMountsEachV1ControllerInItsOwnDirectory) {
  HostLayout l = LayoutBelowDirectory(CgroupMode::kHybrid, "/t", "rcbench");
  EXPECT_EQ(l.backend, BackendKind::kV1);
  EXPECT_EQ(l.mounts.at("blkio"), "/t/blkio");
  EXPECT_EQ(l.mounts.at("unified"), "/t/unified");
  EXPECT_EQ(l.Primary().subtree_dir, "/t/cpu/rcbench");
  EXPECT_EQ(l.UsageFilesFor("a").cpu_pressure, "/t/unified/rcbench/a/cpu.pressure");
  HostLayout v2 = LayoutBelowDirectory(CgroupMode::kV2, "/t", "");
  EXPECT_EQ(v2.UsageFilesFor("a").io_stat, "/t/a/io.stat");
  EXPECT_EQ(v2.UsageFilesFor("").cpu_stat, "/t/cpu.stat");
}

TEST(RcHostLayoutTest, RootNameIsConfigurableAndValidated) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  ProbeOptions options;
  options.root_name = "exp1";
  EXPECT_EQ(ProbeHost(*tree.fs(), options)->Primary().subtree_dir, "/sys/fs/cgroup/exp1");
  options.root_name = "..";
  EXPECT_EQ(ProbeHost(*tree.fs(), options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RcHostLayoutTest, ForcingV2OnHybridHostSaysCpuIsMissing) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  ProbeOptions options;
  options.force_backend = BackendKind::kV2;
  auto layout = ProbeHost(*tree.fs(), options);
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(layout.status().message(), HasSubstr("lacks the cpu controller"));
  EXPECT_THAT(layout.status().message(), HasSubstr("hugetlb"));
}

TEST(RcHostLayoutTest, NoCgroupMountIsAClearError) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  tree.Write("/proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
  auto layout = ProbeHost(*tree.fs());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(layout.status().message(), HasSubstr("no cgroup filesystem is mounted"));
}

TEST(RcHostLayoutTest, V2WithoutCpuControllerNamesWhatIsAvailable) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  tree.Write("/sys/fs/cgroup/cgroup.controllers", "memory pids\n");
  auto layout = ProbeHost(*tree.fs());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(layout.status().message(), HasSubstr("memory pids"));
}

TEST(RcHostLayoutTest, ReadOnlyMountIsAClearError) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  tree.Write("/proc/self/mountinfo",
             "31 23 0:28 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n");
  auto layout = ProbeHost(*tree.fs());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(layout.status().message(), HasSubstr("read-only"));
}

TEST(RcHostLayoutTest, MalformedMountinfoLineIsNamed) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  tree.Write("/proc/self/mountinfo",
             "22 1 0:21 / /proc rw - proc proc rw\n31 23 0:28 / /sys/fs/cgroup/cpu rw\n");
  auto layout = ProbeHost(*tree.fs());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(layout.status().message(), HasSubstr("/proc/self/mountinfo: line 2"));
}

TEST(RcHostLayoutTest, TruncatedControllersFileIsAClearError) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  tree.Write("/sys/fs/cgroup/cgroup.controllers", "cpu mem");
  auto layout = ProbeHost(*tree.fs());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(layout.status().message(), HasSubstr("cgroup.controllers: truncated"));
}

TEST(RcHostLayoutTest, MissingMountinfoIsNotFound) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  ProbeOptions options;
  options.mountinfo_path = "/proc/nonexistent/mountinfo";
  EXPECT_EQ(ProbeHost(*tree.fs(), options).status().code(), absl::StatusCode::kNotFound);
}

TEST(RcHostLayoutTest, EscapedMountPointsAreDecoded) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  tree.Write("/proc/self/mountinfo",
             "32 31 0:29 / /sys/fs/cgroup/my\\040cpu rw,relatime - cgroup cgroup rw,cpu\n");
  auto layout = ProbeHost(*tree.fs());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->Primary().mount_point, "/sys/fs/cgroup/my cpu");
}

TEST(RcHostLayoutTest, ParsesProcCgroup) {
  auto e = ParseProcCgroup("4:memory:/process_api/x\n1:cpu,cpuacct:/\n0::/\n", "p");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].path, "/process_api/x");
  EXPECT_THAT((*e)[1].controllers, ::testing::ElementsAre("cpu", "cpuacct"));
  EXPECT_TRUE((*e)[2].controllers.empty());
  EXPECT_FALSE(ParseProcCgroup("garbage\n", "p").ok());
}

}  // namespace
}  // namespace rcbench::rc
