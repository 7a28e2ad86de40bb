#include "server/kernel_containers.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::server {
namespace {

using rc::testing::FakeCgroupTree;

// Open moves this process, so the fake tree must say where it is.
std::unique_ptr<RcKernelContainers> OpenOn(const FakeCgroupTree& tree) {
  tree.WriteProcCgroup(getpid());
  rc::ContainerSystem::Options options;
  options.fs = tree.fs();
  auto kc = RcKernelContainers::Open(options);
  EXPECT_TRUE(kc.ok()) << kc.status();
  return kc.ok() ? *std::move(kc) : nullptr;
}

std::string ServerDir(absl::string_view hierarchy) {
  return absl::StrCat("/sys/fs/cgroup/", hierarchy, "/rcbench/server-", getpid());
}

bool HasPid(const std::string& procs) {
  for (absl::string_view line : absl::StrSplit(procs, '\n')) {
    if (line == std::to_string(getpid())) return true;
  }
  return false;
}

// Containers off and on alike: the process is the principal, in a container of its own.
TEST(RcKernelContainersTest, OpenMovesTheWholeProcessIntoItsProcessContainer) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  EXPECT_EQ(kc->ProcessPath(), absl::StrCat("server-", getpid(), "/main"));
  EXPECT_EQ(kc->ServerPath(), absl::StrCat("server-", getpid()));
  for (const char* h : {"cpu", "cpuacct", "memory", "pids"}) {
    EXPECT_TRUE(HasPid(tree.Read(ServerDir(h) + "/main/cgroup.procs"))) << h;
    EXPECT_FALSE(HasPid(tree.Read(absl::StrCat("/sys/fs/cgroup/", h, "/cgroup.procs")))) << h;
  }
}

TEST(RcKernelContainersTest, ServerCpuIsTheWholeSubtree) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  tree.Write(ServerDir("cpuacct") + "/cpuacct.usage", "1500000000\n");
  auto s = kc->ServerCpuSeconds();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(*s, 1.5);
}

// With containers on, per-class and CGI containers sit beside the process container on v1,
// so server-<pid> is the server's total in both modes.
TEST(RcKernelContainersTest, V1ContainersAreSiblingsOfTheProcessContainer) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  KernelContainerSpec spec;
  spec.name = "class-high";
  spec.threaded = true;
  auto id = kc->Create(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(kc->Path(*id), absl::StrCat("server-", getpid(), "/class-high"));
  EXPECT_TRUE(tree.Exists(ServerDir("cpu") + "/main"));
}

TEST(RcKernelContainersTest, DestructionPutsTheProcessBackWhereItWas) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  kc.reset();
  for (const char* h : {"cpu", "cpuacct", "memory", "pids"}) {
    EXPECT_TRUE(HasPid(tree.Read(absl::StrCat("/sys/fs/cgroup/", h, "/cgroup.procs")))) << h;
    EXPECT_FALSE(tree.Exists(absl::StrCat("/sys/fs/cgroup/", h, "/rcbench"))) << h;
  }
}

TEST(RcKernelContainersTest, CgiContainerGetsTheCfsLimitOnHybridHost) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  KernelContainerSpec spec;
  spec.name = "cgi";
  spec.cpu_limit = 0.3;
  auto id = kc->Create(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(tree.Read(ServerDir("cpu") + "/cgi/cpu.cfs_quota_us"), "30000");
  EXPECT_TRUE(tree.Exists(ServerDir("cpuacct") + "/cgi"));
  // One join descriptor per managed hierarchy (cpu, cpuacct, memory, pids here).
  EXPECT_GE(kc->JoinFds(*id).size(), 2u);
}

TEST(RcKernelContainersTest, ClassWeightBecomesCpuShares) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  KernelContainerSpec spec;
  spec.name = "class-high";
  spec.weight = 400;
  spec.threaded = true;
  ASSERT_TRUE(kc->Create(spec).ok());
  EXPECT_EQ(tree.Read(ServerDir("cpu") + "/class-high/cpu.shares"), "4096");
}

TEST(RcKernelContainersTest, UsageIsReadFromTheContainer) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  KernelContainerSpec spec;
  spec.name = "cgi";
  int id = *kc->Create(spec);
  tree.Write(ServerDir("cpuacct") + "/cgi/cpuacct.usage", "2500000000\n");
  auto s = kc->CpuSeconds(id);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(*s, 2.5);
}

TEST(RcKernelContainersTest, V2LimitGoesToCpuMax) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  KernelContainerSpec spec;
  spec.name = "cgi";
  spec.cpu_limit = 0.3;
  ASSERT_TRUE(kc->Create(spec).ok());
  std::string dir = absl::StrCat("/sys/fs/cgroup/rcbench/server-", getpid(), "/cgi");
  EXPECT_EQ(tree.Read(dir + "/cpu.max").substr(0, 12), "30000 100000");
}

// A server killed with SIGKILL leaves server-<pid>; the next server removes it once that pid is
// gone, and leaves a live process's subtree alone.
TEST(RcKernelContainersTest, SubtreesOfDeadServersAreRemovedAtStart) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  {
    rc::ContainerSystem::Options options;
    options.fs = tree.fs();
    auto rc = rc::ContainerSystem::Open(options);
    ASSERT_TRUE(rc.ok()) << rc.status();
    rc::CreateOptions parents;
    parents.create_parents = true;
    ASSERT_TRUE((*rc)->Create(absl::StrCat("server-", dead, "/cgi"), {}, parents).ok());
    ASSERT_TRUE((*rc)->Create("server-1", {}).ok());  // pid 1 is alive
  }
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  EXPECT_FALSE(tree.Exists(absl::StrCat("/sys/fs/cgroup/cpu/rcbench/server-", dead)));
  EXPECT_TRUE(tree.Exists("/sys/fs/cgroup/cpu/rcbench/server-1"));
  EXPECT_TRUE(tree.Exists(ServerDir("cpu")));
}

TEST(RcKernelContainersTest, EverythingIsRemovedOnDestruction) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  {
    auto kc = OpenOn(tree);
    ASSERT_NE(kc, nullptr);
    KernelContainerSpec spec;
    spec.name = "cgi";
    ASSERT_TRUE(kc->Create(spec).ok());
  }
  EXPECT_FALSE(tree.Exists(ServerDir("cpu")));
  EXPECT_FALSE(tree.Exists("/sys/fs/cgroup/cpu/rcbench"));
}

TEST(RcKernelContainersTest, V2ThreadedClassesLiveInAThreadedSubtreeRemovedAfterwards) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV2);
  std::string server = absl::StrCat("/sys/fs/cgroup/rcbench/server-", getpid());
  {
    auto kc = OpenOn(tree);
    ASSERT_NE(kc, nullptr);
    KernelContainerSpec spec;
    spec.name = "class-high";
    spec.threaded = true;
    auto id = kc->Create(spec);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(tree.Read(server + "/main/class-high/cgroup.type"), "threaded");
    EXPECT_NE(tree.Read(server + "/main/cgroup.procs").find(std::to_string(getpid())),
              std::string::npos);
  }
  EXPECT_FALSE(tree.Exists(server));
  EXPECT_NE(tree.Read("/sys/fs/cgroup/cgroup.procs").find(std::to_string(getpid())),
            std::string::npos);
}

TEST(RcKernelContainersTest, BadNameIsInvalidArgument) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kHybrid);
  auto kc = OpenOn(tree);
  ASSERT_NE(kc, nullptr);
  KernelContainerSpec spec;
  spec.name = "../escape";
  EXPECT_TRUE(absl::IsInvalidArgument(kc->Create(spec).status()));
}

}  // namespace
}  // namespace rcbench::server
