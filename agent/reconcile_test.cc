#include "agent/reconcile.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/rc_container_admin.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::agent {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A child running `sleep 30` in its own process group, killed and reaped on every path.
class Child {
 public:
  explicit Child(bool ignore_sigterm) {
    int exec_done[2];
    if (pipe2(exec_done, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      if (ignore_sigterm) signal(SIGTERM, SIG_IGN);  // survives exec
      execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(exec_done[1]);
    char c;
    while (read(exec_done[0], &c, 1) > 0) {
    }  // EOF: the child has exec'd, its disposition is in place
    close(exec_done[0]);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Waits for the child's end; its terminating signal, or 0 if it has not ended.
  int Reap() {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) != pid_) return 0;
    pid_ = -1;
    return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
  }

 private:
  pid_t pid_ = -1;
};

JournalService Record(const Child& child, uint64_t start_time) {
  return {"sleeper", child.pid(), start_time, child.pid(), "run-1", "svc"};
}

ReconcileOptions Fast() {
  ReconcileOptions o;
  o.grace = std::chrono::milliseconds(200);
  return o;
}

TEST(ReconcileTest, ALivePidWithAnotherStartTimeIsNeverSignalled) {
  Child child(/*ignore_sigterm=*/false);
  ASSERT_GT(child.pid(), 0);
  auto stat = ReadProcStat("/proc", child.pid());
  ASSERT_TRUE(stat.ok()) << stat.status();
  JournalState previous;
  previous.services.push_back(Record(child, stat->start_time_ticks + 1));  // a reused pid

  auto lines = Reconcile(previous, nullptr, Fast());

  EXPECT_THAT(lines, ElementsAre("reconcile: nothing left by a previous agent"));
  EXPECT_EQ(child.Reap(), 0);
  EXPECT_TRUE(IsSameLiveProcess("/proc", child.pid(), stat->start_time_ticks));
}

TEST(ReconcileTest, AServiceThatIgnoresSigtermIsKilledAfterTheGracePeriod) {
  Child child(/*ignore_sigterm=*/true);
  auto stat = ReadProcStat("/proc", child.pid());
  ASSERT_TRUE(stat.ok()) << stat.status();
  JournalState previous;
  previous.services.push_back(Record(child, stat->start_time_ticks));

  auto lines = Reconcile(previous, nullptr, Fast());

  EXPECT_THAT(lines, Contains(absl::StrCat("reconcile: stopped service sleeper (pid ", child.pid(),
                                           ", owner run-1) left by a previous agent, with "
                                           "SIGKILL")));
  EXPECT_EQ(child.Reap(), SIGKILL);
}

TEST(ReconcileTest, AServiceIsStoppedWithSigtermWhenItObeys) {
  Child child(/*ignore_sigterm=*/false);
  auto stat = ReadProcStat("/proc", child.pid());
  ASSERT_TRUE(stat.ok()) << stat.status();
  JournalState previous;
  previous.services.push_back(Record(child, stat->start_time_ticks));

  auto lines = Reconcile(previous, nullptr, Fast());

  EXPECT_THAT(lines, Contains(HasSubstr("with SIGTERM")));
  EXPECT_EQ(child.Reap(), SIGTERM);
}

class ReconcileContainersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rc::ContainerSystem::Options rco;
    rco.fs = tree_.fs();
    auto system = rc::ContainerSystem::Open(rco);
    ASSERT_TRUE(system.ok()) << system.status();
    admin_ = std::make_unique<RcContainerAdmin>(std::move(*system), "h1");
  }
  bool Exists(const std::string& path) { return tree_.Exists("/sys/fs/cgroup/rcbench/" + path); }

  rc::testing::FakeCgroupTree tree_{rc::testing::FakeCgroupTree::Kind::kV2};
  std::unique_ptr<RcContainerAdmin> admin_;
};

TEST_F(ReconcileContainersTest, JournaledEmptyContainersAreRemovedDeepestFirstAndNothingElse) {
  ASSERT_TRUE(admin_->Create("exp1/a", {}, false).ok());
  ASSERT_TRUE(admin_->Create("not-mine", {}, false).ok());
  JournalState previous;
  previous.containers = {{"exp1", "run-1"}, {"exp1/a", "run-1"}, {"gone", ""}};

  auto lines = Reconcile(previous, admin_.get(), Fast());

  EXPECT_THAT(lines,
              ElementsAre("reconcile: removed container exp1/a (owner run-1)",
                          "reconcile: removed container exp1 (owner run-1)",
                          "reconcile: stopped 0 services, removed 2 containers, kept 0 containers "
                          "left by a previous agent"));
  EXPECT_FALSE(Exists("exp1"));
  EXPECT_TRUE(Exists("not-mine"));
}

TEST_F(ReconcileContainersTest, AContainerWithProcessesIsKeptWithItsProcessCount) {
  ASSERT_TRUE(admin_->Create("busy", {}, false).ok());
  tree_.Write("/sys/fs/cgroup/rcbench/busy/cgroup.procs", "4242\n4243\n");
  JournalState previous;
  previous.containers = {{"busy", "run-1"}};

  auto lines = Reconcile(previous, admin_.get(), Fast());

  EXPECT_THAT(lines, Contains("reconcile: kept container busy (owner run-1): 2 processes still "
                              "in it"));
  EXPECT_TRUE(Exists("busy"));
}

TEST_F(ReconcileContainersTest, AContainerWithChildrenOutsideTheJournalIsKept) {
  ASSERT_TRUE(admin_->Create("exp1/theirs", {}, false).ok());
  JournalState previous;
  previous.containers = {{"exp1", "run-1"}};

  auto lines = Reconcile(previous, admin_.get(), Fast());

  EXPECT_THAT(lines, Contains(HasSubstr("reconcile: kept container exp1 (owner run-1)")));
  EXPECT_TRUE(Exists("exp1/theirs"));
}

TEST(ReconcileJournalTest, NoJournalFileMeansNothingToDoAndNothingLogged) {
  EXPECT_THAT(ReconcileJournal("/nonexistent-rcbench-state/agent.journal", nullptr), ElementsAre());
}

TEST(ReconcileJournalTest, AnEmptyJournalSaysNothingWasLeft) {
  char tmpl[] = "/tmp/rcbench-reconcile-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/agent.journal";
  std::ofstream(path) << "# rcbench-agent journal v1\nnonsense\n";
  auto lines = ReconcileJournal(path, nullptr);
  std::filesystem::remove_all(tmpl);
  EXPECT_THAT(lines, ElementsAre("reconcile: nothing left by a previous agent"));
}

}  // namespace
}  // namespace rcbench::agent
