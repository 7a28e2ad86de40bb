// ContainerSystem on fake v1/v2/hybrid hosts (rc/testing/fake_cgroup_tree.h): what each
// operation writes to the cgroup files, and how bad files are reported.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
  auto rc = ContainerSystem::Open(options);
  EXPECT_TRUE(rc.ok()) << rc.status();
  return rc.ok() ? *std::move(rc) : nullptr;
}

class RcHybridTest : public ::testing::Test {
 protected:
  FakeCgroupTree tree_{FakeCgroupTree::Kind::kHybrid};
  std::unique_ptr<ContainerSystem> rc_ = OpenOn(tree_);
};

class RcV2Test : public ::testing::Test {
 protected:
  FakeCgroupTree tree_{FakeCgroupTree::Kind::kV2};
  std::unique_ptr<ContainerSystem> rc_ = OpenOn(tree_);
};

TEST_F(RcHybridTest, OpenCreatesTheSubtreeInEveryManagedHierarchy) {
  for (const char* h : {"cpu", "cpuacct", "memory", "pids"}) {
    EXPECT_TRUE(tree_.Exists(absl::StrCat("/sys/fs/cgroup/", h, "/rcbench"))) << h;
  }
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/unified/rcbench"));
}

// Two experiments on one host: one process removes the empty root subtree as it exits while
// another still creates containers; the root is created again on demand.
TEST_F(RcHybridTest, CreateRemakesARootSubtreeAnotherProcessRemoved) {
  auto other = OpenOn(tree_);
  ASSERT_NE(other, nullptr);
  other->RemoveRootIfEmpty();
  ASSERT_FALSE(tree_.Exists("/sys/fs/cgroup/cpu/rcbench"));
  auto c = rc_->Create("web", {});
  ASSERT_TRUE(c.ok()) << c.status();
  for (const char* h : {"cpu", "cpuacct", "memory", "pids"}) {
    EXPECT_TRUE(tree_.Exists(absl::StrCat("/sys/fs/cgroup/", h, "/rcbench/web"))) << h;
  }
  // A non-empty root is left alone.
  other->RemoveRootIfEmpty();
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/cpu/rcbench/web"));
}

TEST_F(RcV2Test, CreateRemakesARootSubtreeAnotherProcessRemoved) {
  rc_->RemoveRootIfEmpty();
  ASSERT_FALSE(tree_.Exists("/sys/fs/cgroup/rcbench"));
  auto c = rc_->Create("web", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/rcbench/web"));
}

TEST_F(RcHybridTest, CreateWritesAttributesToV1Files) {
  Attributes a;
  a.cpu_weight = 200;
  a.cpu_limit_cores = 0.2;
  a.memory_limit_bytes = 64 << 20;
  a.pids_limit = 10;
  auto c = rc_->Create("web", a);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/cpu/rcbench/web/cpu.shares"), "2048");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/cpu/rcbench/web/cpu.cfs_quota_us"), "20000");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/memory/rcbench/web/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/pids/rcbench/web/pids.max"), "10");
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/cpuacct/rcbench/web"));
}

TEST_F(RcHybridTest, GetAttributesReadsBackWhatWasSet) {
  Attributes a;
  a.cpu_weight = 50;
  a.cpu_limit_cores = 1.5;
  a.cpu_period_us = 50000;
  a.memory_limit_bytes = 1 << 30;
  a.pids_limit = 0;
  auto c = rc_->Create("web", a);
  ASSERT_TRUE(c.ok()) << c.status();
  auto got = c->GetAttributes();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, a);
}

TEST_F(RcHybridTest, RemovingTheCpuLimitWritesMinusOne) {
  Attributes a;
  a.cpu_limit_cores = 0.5;
  auto c = rc_->Create("web", a);
  ASSERT_TRUE(c.ok());
  a.cpu_limit_cores = 0;
  ASSERT_TRUE(c->SetAttributes(a).ok());
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/cpu/rcbench/web/cpu.cfs_quota_us"), "-1");
}

TEST_F(RcHybridTest, OutOfRangeAttributesAreInvalidArguments) {
  Attributes weight;
  weight.cpu_weight = 0;
  EXPECT_EQ(rc_->Create("a", weight).status().code(), absl::StatusCode::kInvalidArgument);
  Attributes tiny;
  tiny.cpu_limit_cores = 0.001;  // 100 µs per 100 ms period: below the kernel's 1 ms
  auto c = rc_->Create("b", tiny);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("minimum is 1000 us"));
  EXPECT_FALSE(rc_->Exists("b"));
}

TEST_F(RcHybridTest, CreateWithoutParentIsNotFound) {
  auto c = rc_->Create("missing/child");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("parent container 'missing'"));
}

TEST_F(RcHybridTest, CreateParentsMakesMissingAncestors) {
  CreateOptions options;
  options.create_parents = true;
  Attributes a;
  a.cpu_weight = 300;
  auto c = rc_->Create("exp1/high/conn", a, options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(rc_->Exists("exp1"));
  EXPECT_TRUE(rc_->Exists("exp1/high"));
  EXPECT_EQ(rc_->OpenContainer("exp1")->GetAttributes()->cpu_weight, 100u);
  EXPECT_EQ(c->GetAttributes()->cpu_weight, 300u);
}

TEST_F(RcHybridTest, CreatingAnExistingContainerNeedsExistOk) {
  ASSERT_TRUE(rc_->Create("web").ok());
  EXPECT_EQ(rc_->Create("web").status().code(), absl::StatusCode::kAlreadyExists);
  CreateOptions options;
  options.exist_ok = true;
  EXPECT_TRUE(rc_->Create("web", {}, options).ok());
}

TEST_F(RcHybridTest, EscapingNamesNeverTouchTheFilesystem) {
  EXPECT_EQ(rc_->Create("../escape").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/cpu/escape"));
  EXPECT_EQ(rc_->OpenContainer("a/../..").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RcHybridTest, ReadUsageCombinesCpuacctCpuMemoryAndPids) {
  ASSERT_TRUE(rc_->Create("web").ok());
  tree_.Write("/sys/fs/cgroup/cpuacct/rcbench/web/cpuacct.usage", "3000\n");
  tree_.Write("/sys/fs/cgroup/cpuacct/rcbench/web/cpuacct.usage_user", "2000\n");
  tree_.Write("/sys/fs/cgroup/cpuacct/rcbench/web/cpuacct.usage_sys", "1000\n");
  tree_.Write("/sys/fs/cgroup/cpu/rcbench/web/cpu.stat",
              "nr_periods 10\nnr_throttled 4\nthrottled_time 777\nnr_bursts 0\n");
  tree_.Write("/sys/fs/cgroup/memory/rcbench/web/memory.usage_in_bytes", "4096\n");
  tree_.Write("/sys/fs/cgroup/pids/rcbench/web/pids.current", "3\n");
  auto c = rc_->OpenContainer("web");
  ASSERT_TRUE(c.ok());
  auto u = c->ReadUsage();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->cpu_usage_ns, 3000u);
  EXPECT_EQ(u->cpu_user_ns, 2000u);
  EXPECT_EQ(u->cpu_system_ns, 1000u);
  EXPECT_EQ(u->cpu_throttled_periods, 4u);
  EXPECT_EQ(u->cpu_throttled_ns, 777u);
  EXPECT_EQ(u->memory_usage_bytes, 4096u);
  EXPECT_EQ(u->pids_current, 3u);
  EXPECT_THAT(u->available, ElementsAre("cpu", "memory", "pids"));
  EXPECT_FALSE(u->cpu_pressure.has_value());
}

TEST_F(RcHybridTest, TruncatedCpuStatIsAClearError) {
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  tree_.Write("/sys/fs/cgroup/cpu/rcbench/web/cpu.stat", "nr_periods 10\nnr_thr");
  auto u = c->ReadUsage();
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(u.status().message(), HasSubstr("/sys/fs/cgroup/cpu/rcbench/web/cpu.stat"));
}

TEST_F(RcHybridTest, GarbageInCpuSharesIsAClearError) {
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  tree_.Write("/sys/fs/cgroup/cpu/rcbench/web/cpu.shares", "lots\n");
  auto a = c->GetAttributes();
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("cpu.shares"));
}

TEST_F(RcHybridTest, MissingUsageFileIsNotFoundNamingIt) {
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  unlink((tree_.root() + "/sys/fs/cgroup/cpuacct/rcbench/web/cpuacct.usage_user").c_str());
  auto u = c->ReadUsage();
  EXPECT_EQ(u.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(u.status().message(), HasSubstr("cpuacct.usage_user"));
}

TEST_F(RcHybridTest, BindThreadWritesTasksOfCpuCpuacctAndPidsButNotMemory) {
  tree_.WriteProcCgroup(4242);
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->BindThread(4242).ok());
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/cpu/rcbench/web/tasks"), "4242\n");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/cpuacct/rcbench/web/tasks"), "4242\n");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/pids/rcbench/web/tasks"), "4242\n");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/memory/rcbench/web/tasks"), "");
  EXPECT_THAT(*c->Threads(), ElementsAre(4242));
}

TEST_F(RcHybridTest, ResetThreadBindingReturnsTheThreadWhereItWas) {
  tree_.WriteProcCgroup(4242);
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->BindThread(4242).ok());
  ASSERT_TRUE(rc_->ResetThreadBinding(4242).ok());
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/cpu/rcbench/web/tasks"), "");
  EXPECT_THAT(tree_.Read("/sys/fs/cgroup/cpu/tasks"), HasSubstr("4242"));
  EXPECT_EQ(rc_->ResetThreadBinding(4242).code(), absl::StatusCode::kNotFound);
}

TEST_F(RcHybridTest, MalformedProcCgroupFailsTheBinding) {
  tree_.Write("/proc/4242/cgroup", "nonsense\n");
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  absl::Status s = c->BindThread(4242);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("/proc/4242/cgroup: line 1"));
}

TEST_F(RcHybridTest, BindProcessUsesCgroupProcsInEveryHierarchy) {
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->BindProcess(777).ok());
  for (const char* h : {"cpu", "cpuacct", "memory", "pids"}) {
    EXPECT_THAT(tree_.Read(absl::StrCat("/sys/fs/cgroup/", h, "/rcbench/web/cgroup.procs")),
                HasSubstr("777"))
        << h;
  }
}

TEST_F(RcHybridTest, DestroyMovesMembersToTheParentAndRemovesEveryDirectory) {
  tree_.WriteProcCgroup(4242);
  auto parent = rc_->Create("web");
  auto child = rc_->Create("web/a");
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child->BindThread(4242).ok());
  ASSERT_TRUE(rc_->Destroy("web/a").ok());
  for (const char* h : {"cpu", "cpuacct", "memory", "pids"}) {
    EXPECT_FALSE(tree_.Exists(absl::StrCat("/sys/fs/cgroup/", h, "/rcbench/web/a"))) << h;
  }
  EXPECT_THAT(tree_.Read("/sys/fs/cgroup/cpu/rcbench/web/tasks"), HasSubstr("4242"));
}

TEST_F(RcHybridTest, DestroyWithChildrenNeedsRecursive) {
  ASSERT_TRUE(rc_->Create("web").ok());
  ASSERT_TRUE(rc_->Create("web/a").ok());
  EXPECT_EQ(rc_->Destroy("web").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(rc_->Destroy("web", /*recursive=*/true).ok());
  EXPECT_FALSE(rc_->Exists("web"));
  EXPECT_EQ(rc_->Destroy("web").code(), absl::StatusCode::kNotFound);
}

TEST_F(RcHybridTest, DestroyCopesWithANodeMissingInSomeHierarchies) {
  // As left by a process killed half-way through a create.
  ASSERT_TRUE(tree_.fs()->MakeDir("/sys/fs/cgroup/cpu/rcbench/partial").ok());
  ASSERT_TRUE(rc_->Destroy("partial").ok());
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/cpu/rcbench/partial"));
}

TEST_F(RcHybridTest, ListIsDepthFirstParentsBeforeChildren) {
  for (const char* p : {"a", "a/x", "a/y", "b"}) ASSERT_TRUE(rc_->Create(p).ok()) << p;
  auto all = rc_->List();
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, ElementsAre("a", "a/x", "a/y", "b"));
  EXPECT_THAT(*rc_->List("a"), ElementsAre("a/x", "a/y"));
}

TEST_F(RcHybridTest, RemoveOnReleaseRemovesTheCgroupWithTheHandle) {
  CreateOptions options;
  options.remove_on_release = true;
  {
    auto c = rc_->Create("tmp", {}, options);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(rc_->Exists("tmp"));
  }
  EXPECT_FALSE(rc_->Exists("tmp"));
}

TEST_F(RcHybridTest, ReleasingAnOrdinaryHandleKeepsTheCgroup) {
  {
    auto c = rc_->Create("kept");
    ASSERT_TRUE(c.ok());
    c->Release();
    EXPECT_FALSE(c->valid());
  }
  EXPECT_TRUE(rc_->Exists("kept"));
}

TEST_F(RcHybridTest, SetParentRecreatesTheSubtreeUnderTheNewParent) {
  tree_.WriteProcCgroup(4242);
  Attributes a;
  a.cpu_weight = 300;
  auto web = rc_->Create("web");
  auto other = rc_->Create("other");
  auto c = rc_->Create("web/c", a);
  ASSERT_TRUE(rc_->Create("web/c/leaf").ok());
  ASSERT_TRUE(c->BindThread(4242).ok());
  ASSERT_TRUE(rc_->SetParent(*c, &*other).ok());
  EXPECT_EQ(c->path(), "other/c");
  EXPECT_FALSE(rc_->Exists("web/c"));
  EXPECT_TRUE(rc_->Exists("other/c/leaf"));
  auto attributes = c->GetAttributes();
  ASSERT_TRUE(attributes.ok()) << attributes.status();
  EXPECT_EQ(attributes->cpu_weight, 300u);
  EXPECT_THAT(*c->Threads(), ElementsAre(4242));
}

TEST_F(RcHybridTest, ClearingTheParentMovesToTheTopLevel) {
  ASSERT_TRUE(rc_->Create("web").ok());
  auto c = rc_->Create("web/c");
  ASSERT_TRUE(rc_->SetParent(*c, nullptr).ok());
  EXPECT_EQ(c->path(), "c");
}

TEST_F(RcHybridTest, SetParentBelowItselfIsInvalid) {
  auto web = rc_->Create("web");
  auto c = rc_->Create("web/c");
  EXPECT_EQ(rc_->SetParent(*web, &*c).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RcHybridTest, SetParentOntoAnExistingNameIsAlreadyExists) {
  auto web = rc_->Create("web");
  auto other = rc_->Create("other");
  auto c = rc_->Create("web/c");
  ASSERT_TRUE(rc_->Create("other/c").ok());
  EXPECT_EQ(rc_->SetParent(*c, &*other).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c->path(), "web/c");
}

TEST_F(RcHybridTest, HandlesPassOverUnixSocketsWithScmRights) {
  auto c = rc_->Create("shared");
  ASSERT_TRUE(c.ok());
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_TRUE(SendContainer(sv[0], *c).ok());
  auto got = ReceiveContainer(*rc_, sv[1]);
  close(sv[0]);
  close(sv[1]);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->path(), "shared");
  EXPECT_EQ(got->cgroup_id(), c->cgroup_id());
  EXPECT_NE(got->fd(), c->fd());
}

TEST_F(RcHybridTest, ReceivingWithoutADescriptorIsInvalid) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_EQ(write(sv[0], "hello", 5), 5);
  auto got = ReceiveContainer(*rc_, sv[1]);
  close(sv[0]);
  close(sv[1]);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RcHybridTest, DescriptorsOutsideTheSubtreeAreRejected) {
  int fd = open(tree_.root().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  auto got = rc_->FromDescriptor(fd);
  EXPECT_FALSE(got.ok());
}

TEST_F(RcHybridTest, BindSocketRecordsTheContainerAndSetsThePriority) {
  auto c = rc_->Create("web");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  SocketMarking marking;
  marking.priority = 5;
  ASSERT_TRUE(c->BindSocket(fd, marking).ok());
  int prio = 0;
  socklen_t len = sizeof(prio);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, &len), 0);
  EXPECT_EQ(prio, 5);
  EXPECT_EQ(*rc_->SocketContainer(fd), "web");
  c->UnbindSocket(fd);
  EXPECT_EQ(rc_->SocketContainer(fd).status().code(), absl::StatusCode::kNotFound);
  close(fd);
}

TEST_F(RcHybridTest, BindingANonSocketIsInvalid) {
  auto c = rc_->Create("web");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(c->BindSocket(fds[0]).code(), absl::StatusCode::kInvalidArgument);
  close(fds[0]);
  close(fds[1]);
}

TEST(RcV1OnlyTest, V1HostWithoutMemoryHierarchyReportsMissingController) {
  FakeCgroupTree tree(FakeCgroupTree::Kind::kV1);
  tree.Write("/proc/self/mountinfo",
             "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n");
  auto rc = OpenOn(tree);
  ASSERT_NE(rc, nullptr);
  Attributes a;
  a.memory_limit_bytes = 1 << 20;
  auto c = rc->Create("web", a);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.status().message(), HasSubstr("memory controller"));
}

TEST_F(RcV2Test, CreateEnablesDomainControllersInTheParents) {
  ASSERT_TRUE(rc_->Create("web").ok());
  ASSERT_TRUE(rc_->Create("web/a").ok());
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/cgroup.subtree_control"), "cpu memory pids io\n");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/cgroup.subtree_control"), "cpu memory pids io\n");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/web/cgroup.subtree_control"),
            "cpu memory pids io\n");
}

TEST_F(RcV2Test, AttributesUseV2Files) {
  Attributes a;
  a.cpu_weight = 250;
  a.cpu_limit_cores = 0.2;
  a.memory_limit_bytes = 1 << 20;
  a.pids_limit = 0;
  auto c = rc_->Create("web", a);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/web/cpu.weight"), "250");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/web/cpu.max"), "20000 100000");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/web/memory.max"), "1048576");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/web/pids.max"), "max");
  a.cpu_period_us = 100000;
  EXPECT_EQ(*c->GetAttributes(), a);
}

TEST_F(RcV2Test, ReadUsageConvertsMicrosecondsAndReadsPressure) {
  auto c = rc_->Create("web");
  ASSERT_TRUE(c.ok());
  tree_.Write("/sys/fs/cgroup/rcbench/web/cpu.stat",
              "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 7\nnr_throttled 1\n"
              "throttled_usec 9\n");
  tree_.Write("/sys/fs/cgroup/rcbench/web/memory.current", "8192\n");
  tree_.Write("/sys/fs/cgroup/rcbench/web/cpu.pressure",
              "some avg10=0.00 avg60=0.00 avg300=0.00 total=11\n"
              "full avg10=0.00 avg60=0.00 avg300=0.00 total=4\n");
  auto u = c->ReadUsage();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->cpu_usage_ns, 5000u);
  EXPECT_EQ(u->cpu_throttled_ns, 9000u);
  EXPECT_EQ(u->memory_usage_bytes, 8192u);
  EXPECT_EQ(u->cpu_pressure->some_total_us, 11u);
  EXPECT_EQ(u->cpu_pressure->full_total_us, 4u);
  EXPECT_TRUE(u->Has("psi"));
}

TEST_F(RcV2Test, MalformedPressureIsAClearError) {
  auto c = rc_->Create("web");
  tree_.Write("/sys/fs/cgroup/rcbench/web/cpu.pressure", "some avg10=0.00\n");
  auto u = c->ReadUsage();
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(u.status().message(), HasSubstr("cpu.pressure"));
}

TEST_F(RcV2Test, ThreadedContainersGetOnlyThreadedControllers) {
  CreateOptions threaded;
  threaded.threaded = true;
  ASSERT_TRUE(rc_->Create("server").ok());
  auto t = rc_->Create("server/conn", {}, threaded);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/server/cgroup.subtree_control"), "cpu pids\n");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/server/conn/cgroup.type"), "threaded");
}

TEST_F(RcV2Test, MemoryLimitOnAThreadedContainerExplainsWhy) {
  CreateOptions threaded;
  threaded.threaded = true;
  ASSERT_TRUE(rc_->Create("server").ok());
  auto t = rc_->Create("server/conn", {}, threaded);
  ASSERT_TRUE(t.ok());
  Attributes a;
  a.memory_limit_bytes = 1 << 20;
  absl::Status s = t->SetAttributes(a);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("threaded"));
}

TEST_F(RcV2Test, ThreadedChildUnderADomainParentWithMemoryIsRefused) {
  ASSERT_TRUE(rc_->Create("mixed").ok());
  ASSERT_TRUE(rc_->Create("mixed/domain").ok());
  CreateOptions threaded;
  threaded.threaded = true;
  auto t = rc_->Create("mixed/thr", {}, threaded);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("memory"));
}

TEST_F(RcV2Test, BindThreadWritesCgroupThreads) {
  tree_.WriteProcCgroup(99);
  CreateOptions threaded;
  threaded.threaded = true;
  ASSERT_TRUE(rc_->Create("server").ok());
  auto t = rc_->Create("server/conn", {}, threaded);
  ASSERT_TRUE(t->BindThread(99).ok());
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/server/conn/cgroup.threads"), "99\n");
}

TEST_F(RcV2Test, DestroyMovesProcessesUpAndRemovesTheDirectory) {
  auto c = rc_->Create("web");
  ASSERT_TRUE(c->BindProcess(555).ok());
  ASSERT_TRUE(rc_->Destroy("web").ok());
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/rcbench/web"));
  EXPECT_THAT(tree_.Read("/sys/fs/cgroup/rcbench/cgroup.procs"), HasSubstr("555"));
}

}  // namespace
}  // namespace rcbench::rc
