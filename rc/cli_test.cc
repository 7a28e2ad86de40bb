#include "rc/cli.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::rc {
namespace {

using testing::FakeCgroupTree;
using ::testing::HasSubstr;

class RcCliTest : public ::testing::Test {
 protected:
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunCli(args, out_, err_, CliEnvironment{tree_.fs()});
  }

  FakeCgroupTree tree_{FakeCgroupTree::Kind::kHybrid};
  std::ostringstream out_, err_;
};

TEST_F(RcCliTest, ProbePrintsModeBackendAndSubtrees) {
  ASSERT_EQ(Run({"probe"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("mode=hybrid\nbackend=v1\nroot=rcbench\n"));
  EXPECT_THAT(out_.str(), HasSubstr("subtree.cpuacct=/sys/fs/cgroup/cpuacct/rcbench\n"));
  EXPECT_THAT(out_.str(), HasSubstr("mount.unified=/sys/fs/cgroup/unified\n"));
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/cpu/rcbench")) << "probe must not create anything";
}

TEST_F(RcCliTest, CreateThenGetRoundTripsAttributes) {
  ASSERT_EQ(Run({"create", "web/high", "--parents", "--cpu-limit", "20%", "--cpu-weight=300",
                 "--memory-limit", "64MiB", "--pids-limit", "50"}),
            0)
      << err_.str();
  ASSERT_EQ(Run({"get", "web/high"}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "cpu_weight=300\ncpu_limit_cores=0.2\ncpu_period_us=100000\n"
            "memory_limit_bytes=67108864\npids_limit=50\n");
}

TEST_F(RcCliTest, UsagePrintsCountersAndAvailableGroups) {
  ASSERT_EQ(Run({"create", "web"}), 0);
  tree_.Write("/sys/fs/cgroup/cpuacct/rcbench/web/cpuacct.usage", "42\n");
  ASSERT_EQ(Run({"usage", "web"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("cpu_usage_ns=42\n"));
  EXPECT_THAT(out_.str(), HasSubstr("available=cpu,memory,pids\n"));
}

TEST_F(RcCliTest, ListAndDestroy) {
  ASSERT_EQ(Run({"create", "a/b", "--parents"}), 0);
  ASSERT_EQ(Run({"list"}), 0);
  EXPECT_EQ(out_.str(), "a\na/b\n");
  EXPECT_EQ(Run({"destroy", "a"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("has children"));
  EXPECT_EQ(Run({"destroy", "a", "--recursive"}), 0);
  ASSERT_EQ(Run({"list"}), 0);
  EXPECT_EQ(out_.str(), "");
}

TEST_F(RcCliTest, RunBindsTheCommandAndReturnsItsStatus) {
  ASSERT_EQ(Run({"create", "job"}), 0);
  EXPECT_EQ(Run({"run", "job", "--", "sh", "-c", "exit 3"}), 3);
  // The child bound itself before exec; it is gone now, but the fake kept its pid.
  EXPECT_FALSE(tree_.Read("/sys/fs/cgroup/cpu/rcbench/job/cgroup.procs").empty());
}

TEST_F(RcCliTest, BadAttributeValueNamesTheFlag) {
  EXPECT_EQ(Run({"create", "web", "--cpu-limit", "lots"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--cpu-limit"));
  EXPECT_EQ(Run({"create", "web", "--cpu-weight", "0"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--cpu-weight: expected an integer 1..10000"));
}

TEST_F(RcCliTest, UnknownFlagsAndCommandsAreUsageErrors) {
  EXPECT_EQ(Run({"probe", "--frobnicate"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("unknown flag --frobnicate"));
  EXPECT_EQ(Run({"explode"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("got 'explode'"));
  EXPECT_EQ(Run({"get"}), 2);
  EXPECT_EQ(Run({"run", "x"}), 2);
  EXPECT_EQ(Run({"--backend", "v3", "probe"}), 2);
}

TEST_F(RcCliTest, OperationErrorsExitOneWithTheReason) {
  EXPECT_EQ(Run({"usage", "../etc"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("INVALID_ARGUMENT"));
  EXPECT_EQ(Run({"get", "missing"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("does not exist"));
}

TEST_F(RcCliTest, HelpPrintsUsage) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("usage: rcbench-rc"));
}

}  // namespace
}  // namespace rcbench::rc
