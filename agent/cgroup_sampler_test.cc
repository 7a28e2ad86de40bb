#include "agent/cgroup_sampler.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/host_layout.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::agent {
namespace {

using rc::testing::FakeCgroupTree;
using rc::testing::FakeUsage;
using rcbench::v1::ContainerUsage;
using ::testing::ElementsAre;
constexpr FakeCgroupTree::Kind CGROUP_MODE_HYBRID = FakeCgroupTree::Kind::kHybrid;
constexpr FakeCgroupTree::Kind CGROUP_MODE_V1 = FakeCgroupTree::Kind::kV1;
constexpr FakeCgroupTree::Kind CGROUP_MODE_V2 = FakeCgroupTree::Kind::kV2;

// The agent's layout of rc's fake host.
CgroupLayout LayoutOf(const FakeCgroupTree& tree) {
  auto layout = rc::ProbeHost(*tree.fs());
  EXPECT_TRUE(layout.ok()) << layout.status();
  return CgroupLayout::FromRc(*layout, *tree.fs());
}

// Real path of container `path` (below the mounts) in `hierarchy`.
std::string RealDir(const FakeCgroupTree& tree, const std::string& hierarchy,
                    const std::string& path) {
  return tree.root() + tree.Dir(hierarchy, path);
}

// Overwrites one usage file of container `path` (below the mounts) in `hierarchy`.
void WriteFile(const FakeCgroupTree& tree, const std::string& hierarchy, const std::string& path,
               const std::string& file, const std::string& content) {
  tree.Write(tree.Dir(hierarchy, path) + "/" + file, content);
}

class SamplerTest : public ::testing::Test {
 protected:
  std::unique_ptr<CgroupSampler> Make(const FakeCgroupTree& tree, bool inotify = true,
                                      std::string root = "rcbench", uint64_t max_open_files = 0) {
    SamplerOptions o;
    o.layout = LayoutOf(tree);
    o.root = root;
    o.use_inotify = inotify;
    o.max_open_files = max_open_files;
    auto s = CgroupSampler::Create(o, &clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  std::vector<ContainerUsage> Sample(CgroupSampler& s, const SocketTable* sockets = nullptr) {
    google::protobuf::RepeatedPtrField<ContainerUsage> out;
    s.Refresh();
    s.Sample("h1", sockets, &out);
    return {out.begin(), out.end()};
  }
  static std::vector<std::string> Paths(const std::vector<ContainerUsage>& v) {
    std::vector<std::string> p;
    for (const auto& u : v) p.push_back(u.id().path());
    return p;
  }
  static std::vector<std::string> Available(const ContainerUsage& u) {
    return {u.available().begin(), u.available().end()};
  }
  rcbench::testing::FakeClock clock_;
};

TEST_F(SamplerTest, V2TreeReportsEveryCounterInItsUnit) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench");
  tree.WriteUsage("rcbench/web");
  auto s = Make(tree);
  auto v = Sample(*s);
  ASSERT_THAT(Paths(v), ElementsAre("", "web"));
  const ContainerUsage& u = v[1];
  FakeUsage f;
  EXPECT_EQ(u.id().host(), "h1");
  EXPECT_NE(u.id().cgroup_id(), 0u);
  EXPECT_EQ(u.cpu_usage_ns(), f.cpu_usage_us * 1000);
  EXPECT_EQ(u.cpu_user_ns(), f.cpu_user_us * 1000);
  EXPECT_EQ(u.cpu_system_ns(), f.cpu_system_us * 1000);
  EXPECT_EQ(u.cpu_periods(), f.nr_periods);
  EXPECT_EQ(u.cpu_throttled_periods(), f.nr_throttled);
  EXPECT_EQ(u.cpu_throttled_ns(), f.throttled_us * 1000);
  EXPECT_EQ(u.memory_usage_bytes(), f.memory_bytes);
  EXPECT_EQ(u.memory_working_set_bytes(), f.memory_bytes - f.inactive_file_bytes);
  EXPECT_EQ(u.memory_peak_bytes(), f.peak_bytes);
  EXPECT_EQ(u.pids_current(), f.pids);
  EXPECT_EQ(u.io_read_bytes(), f.read_bytes);
  EXPECT_EQ(u.io_write_ops(), f.write_ops);
  EXPECT_EQ(u.cpu_pressure().some_total_us(), f.psi_some_us);
  EXPECT_EQ(u.io_pressure().full_total_us(), f.psi_full_us);
  EXPECT_EQ(u.time().monotonic_ns(), clock_.MonotonicNanos());
  EXPECT_THAT(Available(u), ElementsAre("cpu", "memory", "pids", "io", "psi"));
}

TEST_F(SamplerTest, V1TreeTakesCpuFromCpuacctAndThrottlingFromCpuStat) {
  FakeCgroupTree tree(CGROUP_MODE_V1);
  FakeUsage f;
  f.cpu_user_us = 2'000'000;  // 200 ticks
  f.cpu_system_us = 500'000;  // 50 ticks
  tree.WriteUsage("rcbench/db", f);
  auto s = Make(tree);
  auto v = Sample(*s);
  ASSERT_THAT(Paths(v), ElementsAre("", "db"));  // the root exists as a parent directory
  const ContainerUsage& u = v[1];
  EXPECT_EQ(u.cpu_usage_ns(), f.cpu_usage_us * 1000);
  EXPECT_EQ(u.cpu_user_ns(), 2'000'000'000u);
  EXPECT_EQ(u.cpu_system_ns(), 500'000'000u);
  EXPECT_EQ(u.cpu_throttled_ns(), f.throttled_us * 1000);
  EXPECT_EQ(u.memory_working_set_bytes(), f.memory_bytes - f.inactive_file_bytes);
  EXPECT_EQ(u.memory_peak_bytes(), f.peak_bytes);
  EXPECT_EQ(u.io_read_bytes(), f.read_bytes);
  EXPECT_EQ(u.io_write_bytes(), f.write_bytes);
  EXPECT_EQ(u.io_read_ops(), f.read_ops);
  EXPECT_FALSE(u.has_cpu_pressure());  // v1 hierarchies carry no PSI
  EXPECT_THAT(Available(u), ElementsAre("cpu", "memory", "pids", "io"));
}

TEST_F(SamplerTest, HybridTreeReadsPsiFromTheUnifiedDirectory) {
  FakeCgroupTree tree(CGROUP_MODE_HYBRID);
  tree.WriteUsage("rcbench/web");
  auto s = Make(tree);
  auto v = Sample(*s);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].cpu_pressure().some_total_us(), FakeUsage().psi_some_us);
  EXPECT_EQ(v[1].cpu_usage_ns(), FakeUsage().cpu_usage_us * 1000);
  EXPECT_THAT(Available(v[1]), ElementsAre("cpu", "memory", "pids", "io", "psi"));
}

TEST_F(SamplerTest, CgroupIdIsTheInodeOfThePrimaryDirectory) {
  FakeCgroupTree tree(CGROUP_MODE_V1);
  tree.WriteUsage("rcbench/a");
  auto s = Make(tree);
  auto v = Sample(*s);
  struct stat st;
  ASSERT_EQ(stat(RealDir(tree, "cpu", "rcbench/a").c_str(), &st), 0);
  EXPECT_EQ(v[1].id().cgroup_id(), st.st_ino);
}

TEST_F(SamplerTest, NestedContainersAreReportedWithPathsRelativeToTheRoot) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench/exp1/high");
  tree.WriteUsage("rcbench/exp1/low");
  auto s = Make(tree);
  EXPECT_THAT(Paths(Sample(*s)), ElementsAre("", "exp1", "exp1/high", "exp1/low"));
}

TEST_F(SamplerTest, NewContainerIsNoticedAtTheNextSample) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench/a");
  auto s = Make(tree);
  ASSERT_EQ(Sample(*s).size(), 2u);
  tree.WriteUsage("rcbench/b");
  EXPECT_THAT(Paths(Sample(*s)), ElementsAre("", "a", "b"));
  EXPECT_EQ(s->stats().containers_added, 3u);
}

TEST_F(SamplerTest, RemovedContainerDisappearsAtTheNextSample) {
  FakeCgroupTree tree(CGROUP_MODE_V1);
  tree.WriteUsage("rcbench/a");
  tree.WriteUsage("rcbench/b");
  auto s = Make(tree);
  ASSERT_EQ(Sample(*s).size(), 3u);
  tree.RemoveDirs("rcbench/a");
  EXPECT_THAT(Paths(Sample(*s)), ElementsAre("", "b"));
  EXPECT_EQ(s->stats().containers_removed, 1u);
}

TEST_F(SamplerTest, UnchangedTreeIsNotRescanned) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench/a");
  auto s = Make(tree);
  Sample(*s);
  uint64_t rescans = s->stats().rescans;
  Sample(*s);
  Sample(*s);
  EXPECT_EQ(s->stats().rescans, rescans);
}

TEST_F(SamplerTest, WithoutInotifyEverySampleRescans) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench/a");
  auto s = Make(tree, /*inotify=*/false);
  Sample(*s);
  tree.WriteUsage("rcbench/b");
  EXPECT_THAT(Paths(Sample(*s)), ElementsAre("", "a", "b"));
}

TEST_F(SamplerTest, RootCreatedAfterStartIsFound) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  auto s = Make(tree);
  EXPECT_TRUE(Sample(*s).empty());
  tree.WriteUsage("rcbench/late");
  EXPECT_THAT(Paths(Sample(*s)), ElementsAre("", "late"));
}

TEST_F(SamplerTest, WholeHierarchyRootReportsPathsFromTheMount) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("system.slice/x");
  auto s = Make(tree, true, "/");
  EXPECT_THAT(Paths(Sample(*s)), ElementsAre("", "system.slice", "system.slice/x"));
}

TEST_F(SamplerTest, MalformedCpuStatIsCountedAndCpuLeftOut) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench/a");
  WriteFile(tree, "unified", "rcbench/a", "cpu.stat", "usage_usec twelve\n");
  auto s = Make(tree);
  auto v = Sample(*s);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_THAT(Available(v[1]), ElementsAre("memory", "pids", "io", "psi"));
  EXPECT_GE(s->stats().read_errors, 1u);
}

TEST_F(SamplerTest, EmptyAndGarbageFilesNeverCrashTheSampler) {
  FakeCgroupTree tree(CGROUP_MODE_V1);
  tree.WriteUsage("rcbench/a");
  WriteFile(tree, "cpuacct", "rcbench/a", "cpuacct.usage", "");
  WriteFile(tree, "cpuacct", "rcbench/a", "cpuacct.stat", "user\nsystem -1\n");
  WriteFile(tree, "memory", "rcbench/a", "memory.usage_in_bytes", "18446744073709551616\n");
  WriteFile(tree, "memory", "rcbench/a", "memory.stat", std::string(40000, 'x'));
  WriteFile(tree, "pids", "rcbench/a", "pids.current", "max\n");
  WriteFile(tree, "blkio", "rcbench/a", "blkio.throttle.io_service_bytes_recursive", "8:0 Read\n");
  auto s = Make(tree);
  auto v = Sample(*s);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(Available(v[1]).empty());
  EXPECT_GE(s->stats().read_errors, 5u);
}

TEST_F(SamplerTest, MissingFilesLeaveTheirGroupUnavailable) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  WriteFile(tree, "unified", "rcbench/bare", "cpu.stat",
            "usage_usec 5\nuser_usec 3\nsystem_usec 2\n");
  auto s = Make(tree);
  auto v = Sample(*s);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_THAT(Available(v[1]), ElementsAre("cpu"));
  EXPECT_EQ(s->stats().read_errors, 0u);
}

TEST_F(SamplerTest, V2SocketsAreAttributedByCgroupId) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench/web");
  auto s = Make(tree);
  struct stat st;
  ASSERT_EQ(stat(RealDir(tree, "unified", "rcbench/web").c_str(), &st), 0);
  SocketTable sockets;
  sockets.by_cgroup[st.st_ino][10] = 2;  // LISTEN
  sockets.by_cgroup[st.st_ino][1] = 5;   // ESTABLISHED
  auto v = Sample(*s, &sockets);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].tcp_sockets().at("LISTEN"), 2u);
  EXPECT_EQ(v[1].tcp_sockets().at("ESTABLISHED"), 5u);
  EXPECT_TRUE(v[0].tcp_sockets().empty());
  EXPECT_THAT(Available(v[1]), ::testing::Contains("sockets"));
}

TEST_F(SamplerTest, OpenFilePathsListsEveryKeptOpenFile) {
  FakeCgroupTree tree(CGROUP_MODE_V1);
  tree.WriteUsage("rcbench/a");
  auto s = Make(tree);
  auto paths = s->OpenFilePaths();
  EXPECT_EQ(paths.size(), 9u);  // the root is a bare parent directory here
  EXPECT_THAT(paths, ::testing::Contains(RealDir(tree, "memory", "rcbench/a") + "/memory.stat"));
}

// In a child process: a failed check prints what failed and exits 1 (for EXPECT_EXIT).
#define CHILD_CHECK(cond)                                      \
  do {                                                         \
    if (!(cond)) {                                             \
      std::fprintf(stderr, "child check failed: %s\n", #cond); \
      std::_Exit(1);                                           \
    }                                                          \
  } while (0)

void SetOpenFileLimit(rlim_t soft) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = soft;
  CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
}

TEST_F(SamplerTest, FilesBeyondTheBudgetAreReopenedEverySampleWithTheSameValues) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench");
  for (int i = 0; i < 10; ++i) tree.WriteUsage("rcbench/c" + std::to_string(i));
  auto s = Make(tree, /*inotify=*/true, "rcbench", /*max_open_files=*/7);
  auto v = Sample(*s);
  ASSERT_EQ(v.size(), 11u);
  EXPECT_LE(s->open_file_count(), 7u);
  EXPECT_GT(s->stats().reopens, 0u);
  for (const auto& u : v) {
    EXPECT_THAT(Available(u), ElementsAre("cpu", "memory", "pids", "io", "psi")) << u.id().path();
    EXPECT_EQ(u.memory_usage_bytes(), FakeUsage().memory_bytes) << u.id().path();
  }
  tree.RemoveDirs("rcbench/c9");
  EXPECT_EQ(Sample(*s).size(), 10u);
}

TEST_F(SamplerTest, RemovedContainersFreeTheBudgetForOthers) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  for (int i = 0; i < 4; ++i) tree.WriteUsage("rcbench/c" + std::to_string(i));
  auto s = Make(tree, /*inotify=*/true, "rcbench", /*max_open_files=*/20);
  Sample(*s);
  const size_t before = s->open_file_count();
  tree.RemoveDirs("rcbench/c0");
  Sample(*s);
  EXPECT_LE(s->open_file_count(), 20u);
  EXPECT_GE(s->open_file_count(), before - 1);  // others took the freed budget
}

TEST_F(SamplerTest, AtALowFileLimitEveryContainerIsStillReportedAndCanBeRemoved) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  tree.WriteUsage("rcbench");
  for (int i = 0; i < 40; ++i) tree.WriteUsage("rcbench/c" + std::to_string(i));
  // 41 containers keep ~10 files each open: far beyond a limit of 64 without the budget.
  EXPECT_EXIT(
      {
        SetOpenFileLimit(64);
        auto s = Make(tree, /*inotify=*/true);  // default budget: half the limit
        CHILD_CHECK(s->open_file_budget() == 32);
        google::protobuf::RepeatedPtrField<ContainerUsage> out;
        s->Refresh();
        CHILD_CHECK(s->Sample("h1", nullptr, &out) == 0);
        CHILD_CHECK(out.size() == 41);
        for (const auto& u : out) CHILD_CHECK(u.available_size() == 5);
        CHILD_CHECK(s->open_file_count() <= 32);
        tree.RemoveDirs("rcbench/c7");  // deleting needs descriptors too
        out.Clear();
        s->Refresh();
        CHILD_CHECK(s->Sample("h1", nullptr, &out) == 0);
        CHILD_CHECK(out.size() == 40);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(SamplerTest, ContainersThatCannotBeReadAreCountedNotSilentlyDropped) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  for (int i = 0; i < 5; ++i) tree.WriteUsage("rcbench/c" + std::to_string(i));
  EXPECT_EXIT(
      {
        auto s = Make(tree, /*inotify=*/false, "rcbench", /*max_open_files=*/1);
        google::protobuf::RepeatedPtrField<ContainerUsage> out;
        s->Refresh();
        CHILD_CHECK(s->Sample("h1", nullptr, &out) == 0);
        const size_t total = static_cast<size_t>(out.size());
        CHILD_CHECK(total >= 5);
        // No descriptor left: every reopen (and the rescan's opendir) fails with EMFILE.
        const int lowest_free = dup(0);
        close(lowest_free);
        SetOpenFileLimit(static_cast<rlim_t>(lowest_free));
        out.Clear();
        s->Refresh();
        const size_t not_sampled = s->Sample("h1", nullptr, &out);
        CHILD_CHECK(s->stats().walk_errors == 1);
        CHILD_CHECK(s->container_count() == total);  // the failed walk kept them
        CHILD_CHECK(out.size() + not_sampled == total);
        CHILD_CHECK(not_sampled >= 4);  // only the container with the kept-open file is read
        CHILD_CHECK(s->stats().containers_not_sampled == not_sampled);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(SamplerCreateTest, RootThatEscapesTheHierarchyIsInvalidArgument) {
  FakeCgroupTree tree(CGROUP_MODE_V2);
  SamplerOptions o;
  o.layout = LayoutOf(tree);
  o.root = "../etc";
  rcbench::testing::FakeClock clock;
  EXPECT_EQ(CgroupSampler::Create(o, &clock).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rcbench::agent
