#include "server/kernel_containers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rcbench::server {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Fake cgroup trees in a temp dir: plain directories and files, laid out like the real ones.
class KernelContainersTest : public ::testing::Test {
 protected:
  KernelContainersTest() {
    root_ = fs::temp_directory_path() /
            ("rcbench-cgfake-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_);
  }
  ~KernelContainersTest() override { fs::remove_all(root_); }
  std::string server_dir() const { return "rcbench/server-" + std::to_string(getpid()); }
  fs::path root_;
};

TEST_F(KernelContainersTest, V1LimitGoesToCfsQuotaAndWeightToShares) {
  fs::create_directories(root_ / "cpu");
  fs::create_directories(root_ / "cpuacct");
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  ASSERT_TRUE(kc.ok()) << kc.status();
  EXPECT_FALSE((*kc)->is_v2());
  KernelContainerSpec spec;
  spec.name = "cgi";
  spec.weight = 50;
  spec.cpu_limit = 0.3;
  auto id = (*kc)->Create(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  fs::path cpu = root_ / "cpu" / server_dir() / "cgi";
  EXPECT_EQ(Read(cpu / "cpu.cfs_quota_us"), "30000");
  EXPECT_EQ(Read(cpu / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Read(cpu / "cpu.shares"), "512");
  EXPECT_TRUE(fs::is_directory(root_ / "cpuacct" / server_dir() / "cgi"));
  EXPECT_EQ((*kc)->JoinFds(*id).size(), 2u);
}

TEST_F(KernelContainersTest, V1UsageComesFromCpuacct) {
  fs::create_directories(root_ / "cpu");
  fs::create_directories(root_ / "cpuacct");
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  ASSERT_TRUE(kc.ok()) << kc.status();
  KernelContainerSpec spec;
  spec.name = "cgi";
  int id = *(*kc)->Create(spec);
  std::ofstream(root_ / "cpuacct" / server_dir() / "cgi" / "cpuacct.usage") << "2500000000\n";
  auto s = (*kc)->CpuSeconds(id);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(*s, 2.5);
}

TEST_F(KernelContainersTest, V1GarbageUsageIsDataLoss) {
  fs::create_directories(root_ / "cpu");
  fs::create_directories(root_ / "cpuacct");
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  ASSERT_TRUE(kc.ok());
  KernelContainerSpec spec;
  spec.name = "cgi";
  int id = *(*kc)->Create(spec);
  std::ofstream(root_ / "cpuacct" / server_dir() / "cgi" / "cpuacct.usage") << "lots";
  EXPECT_TRUE(absl::IsDataLoss((*kc)->CpuSeconds(id).status()));
}

TEST_F(KernelContainersTest, V2LimitGoesToCpuMaxAndEnablesTheController) {
  std::ofstream(root_ / "cgroup.controllers") << "cpuset cpu io memory pids\n";
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  ASSERT_TRUE(kc.ok()) << kc.status();
  EXPECT_TRUE((*kc)->is_v2());
  KernelContainerSpec spec;
  spec.name = "cgi";
  spec.weight = 200;
  spec.cpu_limit = 0.3;
  ASSERT_TRUE((*kc)->Create(spec).ok());
  fs::path dir = root_ / server_dir() / "cgi";
  EXPECT_EQ(Read(dir / "cpu.max"), "30000 100000");
  EXPECT_EQ(Read(dir / "cpu.weight"), "200");
  EXPECT_EQ(Read(root_ / "rcbench" / "cgroup.subtree_control"), "+cpu");
}

TEST_F(KernelContainersTest, V2UsageComesFromCpuStat) {
  std::ofstream(root_ / "cgroup.controllers") << "cpu\n";
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  ASSERT_TRUE(kc.ok());
  KernelContainerSpec spec;
  spec.name = "cgi";
  int id = *(*kc)->Create(spec);
  std::ofstream(root_ / server_dir() / "cgi" / "cpu.stat")
      << "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n";
  EXPECT_DOUBLE_EQ(*(*kc)->CpuSeconds(id), 1.5);
}

TEST_F(KernelContainersTest, V2WithoutCpuControllerSaysSo) {
  std::ofstream(root_ / "cgroup.controllers") << "memory pids\n";
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  ASSERT_FALSE(kc.ok());
  EXPECT_NE(kc.status().message().find("cpu controller"), std::string::npos);
}

TEST_F(KernelContainersTest, NoHierarchyIsFailedPrecondition) {
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  EXPECT_TRUE(absl::IsFailedPrecondition(kc.status())) << kc.status();
}

TEST_F(KernelContainersTest, NamesThatEscapeAreRejected) {
  fs::create_directories(root_ / "cpu");
  fs::create_directories(root_ / "cpuacct");
  auto kc = CgroupKernelContainers::Open(root_.string(), "rcbench");
  ASSERT_TRUE(kc.ok());
  for (const char* bad : {"..", "a/b", "", "x\n"}) {
    KernelContainerSpec spec;
    spec.name = bad;
    EXPECT_TRUE(absl::IsInvalidArgument((*kc)->Create(spec).status())) << bad;
  }
}

}  // namespace
}  // namespace rcbench::server
