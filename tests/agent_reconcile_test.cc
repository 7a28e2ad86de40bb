// Privileged, on this host's real cgroups: an rcbench-agent that is SIGKILLed leaves owned
// containers and a service that ignores SIGTERM (so PR_SET_PDEATHSIG did not end it); the next
// agent started with the same --state-dir must stop that service, remove those containers and
// say so in its log, and touch nothing else.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "agent/cgroup_layout.h"
#include "agent/journal.h"
#include "common/rpc_security.h"
#include "common/testing/process.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rcbench/v1/agent.grpc.pb.h"
#include "tests/agent_test_cleanup.h"

namespace rcbench::agent {
namespace {

namespace v1 = rcbench::v1;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kOwner[] = "reconcile-run-1";

using testing::Slurp;

using Cleanup = testing::AgentTestCleanup;

class AgentReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    const char* bin_dir = getenv("RCBENCH_BIN_DIR");
    agent_bin_ = std::string(bin_dir ? bin_dir : "") + "/rcbench-agent";
    if (access(agent_bin_.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << agent_bin_;
    if (access("/bin/sh", X_OK) != 0) GTEST_SKIP() << "no /bin/sh for the stubborn service";
    auto layout = ProbeCgroupLayout();
    if (!layout.ok()) GTEST_SKIP() << "no usable cgroups: " << layout.status();
    layout_ = *layout;
    root_ = "rcbench-reconcile" + std::to_string(getpid());
    cleanup_ = std::make_unique<Cleanup>(layout_, root_);
    char tmpl[] = "/tmp/rcbench-reconcile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    cleanup_->tmp_dir = tmpl;
    dir_ = tmpl;
    state_dir_ = dir_ + "/state";
    token_ = *NewToken();
    ASSERT_TRUE(WriteTokenFile(dir_ + "/token", token_).ok());
    // Ignores SIGTERM (and so does its child: an ignored disposition survives exec).
    std::ofstream(dir_ + "/agent.yaml")
        << "root: " << root_ << "\n"
        << "interval: 100ms\n"
        << "services:\n"
        << "  stubborn:\n"
        << "    command: [/bin/sh, -c, \"trap '' TERM; sleep 60; sleep 60\"]\n"
        << "    container: stubborn\n";
  }

  void TearDown() override { cleanup_.reset(); }

  // Starts an agent logging to `log` and waits until it serves; returns a stub.
  std::unique_ptr<v1::Agent::Stub> StartAgent(const std::string& log) {
    const std::string ready = dir_ + "/ready";
    fs::remove(ready);
    const std::string config = dir_ + "/agent.yaml";
    const std::string token_file = dir_ + "/token";
    rcbench::testing::ProcessOptions options;
    options.stderr_path = log;
    auto agent = rcbench::testing::Process::Start(
        {agent_bin_, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config",
         config, "--ready-file", ready, "--token-file", token_file, "--state-dir", state_dir_,
         "--die-with-parent"},
        options);
    if (!agent.ok()) {
      ADD_FAILURE() << agent.status();
      return nullptr;
    }
    cleanup_->agent = std::move(*agent);
    auto kv = cleanup_->agent->WaitForReadyFile(ready, std::chrono::seconds(15));
    if (!kv.ok()) {
      ADD_FAILURE() << "the agent did not become ready: " << kv.status();
      return nullptr;
    }
    const std::string grpc = (*kv)["grpc"];
    ClientSecurity security;
    security.token = token_;
    return v1::Agent::NewStub(*MakeRpcChannel(grpc, security));
  }

  bool ContainerExists(const std::string& path) const {
    for (const auto& [controller, mount] : layout_.mounts) {
      if (fs::exists(mount + "/" + root_ + "/" + path)) return true;
    }
    return false;
  }

  std::string agent_bin_, root_, dir_, state_dir_, token_;
  CgroupLayout layout_;
  std::unique_ptr<Cleanup> cleanup_;
};

TEST_F(AgentReconcileTest, ARestartedAgentStopsAndRemovesWhatAKilledOneLeft) {
  auto stub = StartAgent(dir_ + "/agent1.log");
  ASSERT_NE(stub, nullptr);
  for (const char* path : {"run/a", "run/b"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CreateContainerRequest req;
    req.set_path(path);
    req.set_owner(kOwner);
    v1::ContainerInfo info;
    grpc::Status s = stub->CreateContainer(&ctx, req, &info);
    ASSERT_TRUE(s.ok()) << path << ": " << s.error_message();
  }
  // Someone else's container in the same subtree: never in the journal, never touched.
  bool foreign = false;
  for (const auto& [controller, mount] : layout_.mounts) {
    if (!foreign && fs::is_directory(mount + "/" + root_)) {
      foreign = fs::create_directory(mount + "/" + root_ + "/foreign");
    }
  }
  ASSERT_TRUE(foreign);
  v1::ServiceStatus st;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::StartServiceRequest req;
    req.set_name("stubborn");
    req.set_owner(kOwner);
    grpc::Status s = stub->StartService(&ctx, req, &st);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  cleanup_->service_pgid = st.pid();
  // Only once `sleep` runs has the shell set its trap: killing the agent earlier would end the
  // service through PDEATHSIG, leaving nothing to reconcile.
  int members = 0;
  (void)rcbench::testing::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        v1::ListContainersRequest req;
        req.set_path_prefix("stubborn");
        v1::ListContainersResponse resp;
        if (stub->ListContainers(&ctx, req, &resp).ok() && resp.containers_size() > 0) {
          members = resp.containers(0).pids_size();
        }
        return members >= 2;
      },
      std::chrono::seconds(5), "the service's shell to start sleep", std::chrono::milliseconds(25));
  ASSERT_EQ(members, 2) << "the service's shell never started sleep";
  auto stat = ReadProcStat("/proc", st.pid());
  ASSERT_TRUE(stat.ok()) << stat.status();
  ASSERT_THAT(Slurp(state_dir_ + "/agent.journal"), HasSubstr("service\tstubborn"));

  cleanup_->agent->Kill(SIGKILL);  // the agent alone: the service is in a group of its own
  absl::StatusOr<int> killed = cleanup_->agent->Wait();
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_EQ(*killed, 128 + SIGKILL) << "the agent ended before it was killed";
  // A wait for something that must not happen: the service's PDEATHSIG (SIGTERM) has landed by
  // now, and the service must have ignored it.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(IsSameLiveProcess("/proc", st.pid(), stat->start_time_ticks))
      << "the service did not survive its agent: nothing would be left to reconcile";
  ASSERT_TRUE(ContainerExists("run/a"));

  const std::string log2 = dir_ + "/agent2.log";
  auto stub2 = StartAgent(log2);
  ASSERT_NE(stub2, nullptr);

  EXPECT_FALSE(IsSameLiveProcess("/proc", st.pid(), stat->start_time_ticks));
  EXPECT_FALSE(ContainerExists("run/a"));
  EXPECT_FALSE(ContainerExists("run/b"));
  EXPECT_FALSE(ContainerExists("run"));
  EXPECT_FALSE(ContainerExists("stubborn"));
  EXPECT_TRUE(ContainerExists("foreign"));
  const std::string log = Slurp(log2);
  EXPECT_THAT(log,
              HasSubstr("reconcile: stopped service stubborn (pid " + std::to_string(st.pid()) +
                        ", owner " + kOwner + ") left by a previous agent, with SIGKILL"));
  EXPECT_THAT(log, HasSubstr(std::string("reconcile: removed container run/a (owner ") + kOwner));
  EXPECT_THAT(log,
              HasSubstr(std::string("reconcile: removed container stubborn (owner ") + kOwner));
  EXPECT_THAT(log, HasSubstr("reconcile: stopped 1 services, removed 4 containers, kept 0"));
  cleanup_->service_pgid = -1;

  // A clean stop leaves no journal: the next start has nothing to reconcile.
  absl::StatusOr<int> stopped = cleanup_->agent->Stop(std::chrono::seconds(30));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(*stopped, 0);
  EXPECT_FALSE(fs::exists(state_dir_ + "/agent.journal"));
}

TEST_F(AgentReconcileTest, ReleaseOwnerStopsTheOwnersServiceAndRemovesItsContainers) {
  auto stub = StartAgent(dir_ + "/agent.log");
  ASSERT_NE(stub, nullptr);
  {
    grpc::ClientContext ctx;
    v1::CreateContainerRequest req;
    req.set_path("run/a");
    req.set_owner(kOwner);
    v1::ContainerInfo info;
    ASSERT_TRUE(stub->CreateContainer(&ctx, req, &info).ok());
  }
  v1::ServiceStatus st;
  {
    grpc::ClientContext ctx;
    v1::StartServiceRequest req;
    req.set_name("stubborn");
    req.set_owner(kOwner);
    grpc::Status s = stub->StartService(&ctx, req, &st);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  cleanup_->service_pgid = st.pid();

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::ReleaseOwnerRequest req;
  req.set_owner(kOwner);
  req.mutable_grace()->set_nanos(500'000'000);
  v1::ReleaseOwnerResponse resp;
  grpc::Status s = stub->ReleaseOwner(&ctx, req, &resp);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.stopped_services(), ::testing::ElementsAre("stubborn"));
  EXPECT_THAT(resp.removed_containers(), ::testing::ElementsAre("run/a", "run", "stubborn"));
  EXPECT_THAT(resp.kept_containers(), ::testing::ElementsAre());
  EXPECT_FALSE(ContainerExists("run"));
  EXPECT_FALSE(ContainerExists("stubborn"));
  cleanup_->service_pgid = -1;
}

}  // namespace
}  // namespace rcbench::agent
