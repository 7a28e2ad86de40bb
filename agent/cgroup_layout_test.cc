#include "agent/cgroup_layout.h"

#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

constexpr absl::string_view kHybrid =
    "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(ParseMountInfoTest, HybridHostHasV1ControllersAndUnified) {
  auto l = ParseMountInfo(kHybrid);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->mode, rcbench::v1::CGROUP_MODE_HYBRID);
  EXPECT_EQ(l->MountOf("cpu"), "/sys/fs/cgroup/cpu");
  EXPECT_EQ(l->MountOf("cpuacct"), "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(l->MountOf("unified"), "/sys/fs/cgroup/unified");
  EXPECT_EQ(l->MountOf("name=systemd"), "/sys/fs/cgroup/systemd");
  EXPECT_TRUE(l->uses_v1());
}

TEST(ParseMountInfoTest, CoMountedControllersShareAMountPoint) {
  auto l =
      ParseMountInfo("32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->mode, rcbench::v1::CGROUP_MODE_V1);
  EXPECT_EQ(l->MountOf("cpu"), l->MountOf("cpuacct"));
}

TEST(ParseMountInfoTest, UnifiedOnlyHostIsV2) {
  auto l = ParseMountInfo(
      "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->mode, rcbench::v1::CGROUP_MODE_V2);
  EXPECT_EQ(l->MountOf("unified"), "/sys/fs/cgroup");
  EXPECT_FALSE(l->uses_v1());
}

TEST(ParseMountInfoTest, NoCgroupMountIsNotFound) {
  EXPECT_EQ(ParseMountInfo("22 1 0:21 / /proc rw - proc proc rw\n").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ParseMountInfoTest, MalformedCgroupLineIsInvalidArgumentNamingTheLine) {
  auto l = ParseMountInfo("22 1 0:21 / /proc rw - proc proc rw\n41 31 cgroup2\n");
  EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(l.status().message().find("line 2"), std::string::npos);
}

TEST(ProbeCgroupLayoutTest, MissingFileIsNotFound) {
  EXPECT_EQ(ProbeCgroupLayout("/nonexistent/mountinfo").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rcbench::agent
