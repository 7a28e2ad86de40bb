// The resource-container API on this host's real cgroups. Needs root and a writable cgroupfs
// with the cpu controller; skips with the reason otherwise. Each test works in its own root
// subtree ("rcbench-test-<pid>-<n>") that an RAII guard removes on every exit path.

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/container.h"

namespace rcbench::rc {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Removes subtrees that earlier runs left behind when they were killed (no destructor ran).
void RemoveSubtreesOfDeadTestProcesses(const ContainerSystem& rc) {
  for (const Hierarchy* h : rc.layout().Managed()) {
    auto dirs = rc.fs().ListDirs(h->mount_point);
    if (!dirs.ok()) continue;
    for (const std::string& name : *dirs) {
      int pid = 0;
      if (sscanf(name.c_str(), "rcbench-test-%d-", &pid) != 1 || pid <= 0) continue;
      if (kill(pid, 0) == 0 || errno != ESRCH) continue;
      ContainerSystem::Options options;
      options.probe.root_name = name;
      auto stale = ContainerSystem::Open(options);
      if (stale.ok()) (*stale)->Destroy("", /*recursive=*/true).IgnoreError();
    }
  }
}

std::string UniqueRootName() {
  static std::atomic<int> counter{0};
  return absl::StrCat("rcbench-test-", getpid(), "-", counter++);
}

class RcPrivilegedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    ContainerSystem::Options options;
    options.probe.root_name = UniqueRootName();
    auto rc = ContainerSystem::Open(options);
    if (!rc.ok()) GTEST_SKIP() << "no usable cgroups here: " << rc.status();
    rc_ = *std::move(rc);
    RemoveSubtreesOfDeadTestProcesses(*rc_);
  }

  void TearDown() override {
    if (rc_ == nullptr) return;
    // Runs also after a failed assertion: removes the whole subtree in every hierarchy.
    absl::Status s = rc_->Destroy("", /*recursive=*/true);
    EXPECT_TRUE(s.ok()) << "cleanup: " << s;
    for (const Hierarchy* h : rc_->layout().Managed()) {
      EXPECT_FALSE(rc_->fs().Exists(h->subtree_dir)) << h->subtree_dir << " left behind";
    }
  }

  std::string CpuDirOf(const Container& c) const {
    return rc_->layout().ContainerDir(*rc_->layout().ForController("cpu"), c.path());
  }

  std::unique_ptr<ContainerSystem> rc_;
};

TEST_F(RcPrivilegedTest, NestedContainersAreCreatedAndDestroyedInEveryHierarchy) {
  Attributes a;
  a.cpu_weight = 200;
  a.memory_limit_bytes = 256 << 20;
  a.pids_limit = 64;
  auto top = rc_->Create("top", a);
  ASSERT_TRUE(top.ok()) << top.status();
  auto mid = rc_->Create("top/mid", a);
  ASSERT_TRUE(mid.ok()) << mid.status();
  auto leaf = rc_->Create("top/mid/leaf");
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  for (const Hierarchy* h : rc_->layout().Managed()) {
    EXPECT_TRUE(rc_->fs().IsDir(rc_->layout().ContainerDir(*h, "top/mid/leaf"))) << h->mount_point;
  }
  auto got = mid->GetAttributes();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->cpu_weight, 200u);
  if (rc_->layout().ForController("memory") != nullptr) {
    EXPECT_EQ(got->memory_limit_bytes, uint64_t{256} << 20);
  }
  ASSERT_TRUE(rc_->Destroy("top", /*recursive=*/true).ok());
  for (const Hierarchy* h : rc_->layout().Managed()) {
    EXPECT_FALSE(rc_->fs().Exists(rc_->layout().ContainerDir(*h, "top"))) << h->mount_point;
  }
}

TEST_F(RcPrivilegedTest, BusyThreadWithA20PercentLimitGets20PercentAndUsageMatchesItsClock) {
  if (rc_->layout().backend == BackendKind::kV2) {
    GTEST_SKIP() << "binding a single thread needs a threaded domain on v2; covered on v1 hosts";
  }
  // A generous weight keeps the test's share while the machine is busy with other work.
  auto root = rc_->OpenContainer("");
  ASSERT_TRUE(root.ok());
  Attributes heavy;
  heavy.cpu_weight = 10000;
  ASSERT_TRUE(root->SetAttributes(heavy).ok());
  Attributes limited;
  limited.cpu_limit_cores = 0.2;
  limited.cpu_period_us = 100000;
  limited.cpu_weight = 10000;
  auto c = rc_->Create("limited", limited);
  ASSERT_TRUE(c.ok()) << c.status();
  auto before = c->ReadUsage();
  ASSERT_TRUE(before.ok()) << before.status();

  int64_t thread_cpu_ns = 0;
  int64_t wall_ns = 0;
  absl::Status bind_status, reset_status;
  std::thread worker([&] {
    bind_status = c->BindThread();
    if (!bind_status.ok()) return;
    const int64_t cpu0 = ThreadCpuNs();
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)) {
    }
    thread_cpu_ns = ThreadCpuNs() - cpu0;
    wall_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    reset_status = rc_->ResetThreadBinding();
  });
  worker.join();
  ASSERT_TRUE(bind_status.ok()) << bind_status;
  ASSERT_TRUE(reset_status.ok()) << reset_status;
  auto after = c->ReadUsage();
  ASSERT_TRUE(after.ok()) << after.status();

  const double share = static_cast<double>(thread_cpu_ns) / static_cast<double>(wall_ns);
  EXPECT_NEAR(share, 0.20, 0.05) << "thread got " << thread_cpu_ns << " ns in " << wall_ns;
  const double usage_ns = static_cast<double>(after->cpu_usage_ns - before->cpu_usage_ns);
  EXPECT_NEAR(usage_ns / static_cast<double>(thread_cpu_ns), 1.0, 0.05)
      << "container usage " << usage_ns << " ns, thread clock " << thread_cpu_ns << " ns";
  EXPECT_GT(after->cpu_throttled_periods, before->cpu_throttled_periods);
}

TEST_F(RcPrivilegedTest, AParentsCpuLimitCapsItsWholeSubtree) {
  if (rc_->layout().backend == BackendKind::kV2) GTEST_SKIP() << "v1 thread binding";
  auto root = rc_->OpenContainer("");
  ASSERT_TRUE(root.ok());
  Attributes heavy;
  heavy.cpu_weight = 10000;
  ASSERT_TRUE(root->SetAttributes(heavy).ok());
  Attributes parent_attrs = heavy;
  parent_attrs.cpu_limit_cores = 0.3;
  ASSERT_TRUE(rc_->Create("capped", parent_attrs).ok());
  auto x = rc_->Create("capped/x", heavy);  // children have no limit of their own
  auto y = rc_->Create("capped/y", heavy);
  ASSERT_TRUE(x.ok() && y.ok());
  std::atomic<int64_t> total_cpu_ns{0};
  std::atomic<bool> failed{false};
  const auto t0 = std::chrono::steady_clock::now();
  auto spin = [&](Container* c) {
    if (!c->BindThread().ok()) {
      failed = true;
      return;
    }
    const int64_t cpu0 = ThreadCpuNs();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1500)) {
    }
    total_cpu_ns += ThreadCpuNs() - cpu0;
    if (!rc_->ResetThreadBinding().ok()) failed = true;
  };
  std::thread tx(spin, &*x), ty(spin, &*y);
  tx.join();
  ty.join();
  ASSERT_FALSE(failed);
  const double share = static_cast<double>(total_cpu_ns) / 1.5e9;
  EXPECT_NEAR(share, 0.30, 0.05) << "two unlimited children of a 30% parent got " << share;
}

TEST_F(RcPrivilegedTest, ResetThreadBindingReturnsTheThreadToItsCgroup) {
  if (rc_->layout().backend == BackendKind::kV2) GTEST_SKIP() << "v1 thread binding";
  auto c = rc_->Create("bound");
  ASSERT_TRUE(c.ok());
  const std::string task_cgroup = absl::StrCat("/proc/self/task/", Tid(), "/cgroup");
  const std::string original = ReadText(task_cgroup);
  ASSERT_TRUE(c->BindThread().ok());
  EXPECT_THAT(*c->Threads(), Contains(Tid()));
  EXPECT_THAT(ReadText(task_cgroup), HasSubstr(absl::StrCat(rc_->layout().root_name, "/bound")));
  ASSERT_TRUE(rc_->ResetThreadBinding().ok());
  EXPECT_EQ(ReadText(task_cgroup), original);
}

TEST_F(RcPrivilegedTest, ReparentingKeepsBoundThreadsAndAttributes) {
  if (rc_->layout().backend == BackendKind::kV2) GTEST_SKIP() << "v1 thread binding";
  auto a = rc_->Create("a");
  auto b = rc_->Create("b");
  Attributes attrs;
  attrs.cpu_weight = 400;
  auto c = rc_->Create("a/c", attrs);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->BindThread().ok());
  absl::Status moved = rc_->SetParent(*c, &*b);
  absl::Status reset = rc_->ResetThreadBinding();
  ASSERT_TRUE(moved.ok()) << moved;
  EXPECT_EQ(c->path(), "b/c");
  EXPECT_FALSE(rc_->Exists("a/c"));
  EXPECT_EQ(c->GetAttributes()->cpu_weight, 400u);
  EXPECT_TRUE(reset.ok()) << reset;
}

TEST_F(RcPrivilegedTest, AHandleSentToAChildProcessLetsItJoinTheContainer) {
  auto c = rc_->Create("shared");
  ASSERT_TRUE(c.ok()) << c.status();
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const std::string root_name = rc_->layout().root_name;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(sv[0]);
    // The child has its own ContainerSystem; it learns the container only from the handle.
    ContainerSystem::Options options;
    options.probe.root_name = root_name;
    auto rc = ContainerSystem::Open(options);
    if (!rc.ok()) _exit(10);
    auto got = ReceiveContainer(**rc, sv[1]);
    if (!got.ok() || got->path() != "shared") _exit(11);
    if (!got->BindProcess().ok()) _exit(12);
    char ok = 'k';
    if (write(sv[1], &ok, 1) != 1) _exit(13);
    char done;
    (void)!read(sv[1], &done, 1);  // wait until the parent has looked
    _exit(0);
  }
  close(sv[1]);
  ASSERT_TRUE(SendContainer(sv[0], *c).ok());
  char ack = 0;
  const bool acked = read(sv[0], &ack, 1) == 1;
  std::vector<pid_t> procs;
  if (acked) procs = *c->Processes();
  close(sv[0]);  // lets the child exit
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(acked);
  EXPECT_THAT(procs, Contains(child));
}

TEST_F(RcPrivilegedTest, BoundSocketsCarryTheMarkAndPriority) {
  auto c = rc_->Create("net");
  ASSERT_TRUE(c.ok());
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  SocketMarking marking;
  marking.mark = 0x5ca1ab1e;
  marking.priority = 6;
  absl::Status s = c->BindSocket(fd, marking);
  uint32_t mark = 0;
  socklen_t len = sizeof(mark);
  getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len);
  auto owner = rc_->SocketContainer(fd);
  close(fd);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(mark, 0x5ca1ab1eu);
  EXPECT_EQ(*owner, "net");
}

TEST_F(RcPrivilegedTest, DestroyingAContainerWithAMemberMovesItToTheParent) {
  if (rc_->layout().backend == BackendKind::kV2) GTEST_SKIP() << "v1 thread binding";
  auto p = rc_->Create("p");
  auto c = rc_->Create("p/c");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->BindThread().ok());
  absl::Status s = rc_->Destroy("p/c");
  auto members = p->Threads();
  absl::Status reset = rc_->ResetThreadBinding();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(*members, Contains(Tid()));
  EXPECT_TRUE(reset.ok()) << reset;
}

// The v2 backend against a real kernel. On hybrid hosts the unified mount carries no cpu
// controller, but v2 membership rules, threaded mode, cpu.stat usage and PSI are all there.
TEST(RcV2KernelTest, ThreadedContainerBindsAThreadAndMeasuresItsCpu) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  ContainerSystem::Options options;
  options.probe.root_name = UniqueRootName();
  options.probe.force_backend = BackendKind::kV2;
  options.probe.require_cpu = false;
  auto opened = ContainerSystem::Open(options);
  if (!opened.ok()) GTEST_SKIP() << "no usable cgroup v2 mount: " << opened.status();
  std::unique_ptr<ContainerSystem> rc = *std::move(opened);
  struct Cleanup {
    ContainerSystem* rc;
    ~Cleanup() {
      absl::Status s = rc->Destroy("", /*recursive=*/true);
      EXPECT_TRUE(s.ok()) << "cleanup: " << s;
      EXPECT_FALSE(rc->fs().Exists(rc->layout().Primary().subtree_dir));
    }
  } cleanup{rc.get()};

  auto server = rc->Create("server");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(server->BindProcess().ok());  // the threaded domain holds the process
  CreateOptions threaded;
  threaded.threaded = true;
  auto conn = rc->Create("server/conn", {}, threaded);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(
      ReadText(rc->layout().ContainerDir(rc->layout().Primary(), "server/conn") + "/cgroup.type"),
      "threaded\n");

  absl::Status bind, reset;
  bool was_member = false;
  int64_t thread_cpu_ns = 0;
  std::thread worker([&] {
    bind = conn->BindThread();
    if (!bind.ok()) return;
    auto members = conn->Threads();
    was_member =
        members.ok() && std::find(members->begin(), members->end(), Tid()) != members->end();
    const int64_t cpu0 = ThreadCpuNs();
    while (ThreadCpuNs() - cpu0 < 300'000'000) {
    }
    thread_cpu_ns = ThreadCpuNs() - cpu0;
    reset = rc->ResetThreadBinding();
  });
  worker.join();
  ASSERT_TRUE(bind.ok()) << bind;
  EXPECT_TRUE(was_member);
  EXPECT_TRUE(reset.ok()) << reset;
  auto usage = conn->ReadUsage();
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_NEAR(static_cast<double>(usage->cpu_usage_ns) / static_cast<double>(thread_cpu_ns), 1.0,
              0.05);
  if (access("/proc/pressure/cpu", R_OK) == 0) {
    EXPECT_TRUE(usage->Has("psi"));
  }
  // Without the cpu controller there are no CPU attributes, and the error says why.
  Attributes weight;
  weight.cpu_weight = 200;
  if (!rc->layout().Primary().Has("cpu")) {
    absl::Status s = conn->SetAttributes(weight);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("cpu controller is not enabled"));
  }
}

}  // namespace
}  // namespace rcbench::rc
