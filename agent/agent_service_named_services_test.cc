// AgentService's named services: Start/Stop/GetServiceStatus of the declared services only,
// their arguments, containers, readiness, exit and stop.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "agent/agent_service.h"
#include "agent/agent_service_test_util.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {
namespace {

using testing::AgentServiceTest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace v1 = rcbench::v1;

TEST_F(AgentServiceTest, UndeclaredServiceIsNotFound) {
  grpc::ClientContext ctx;
  v1::StartServiceRequest req;
  req.set_name("/bin/rm");
  v1::ServiceStatus st;
  EXPECT_EQ(stub_->StartService(&ctx, req, &st).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AgentServiceTest, ArgumentOutsideTheDeclarationIsPermissionDenied) {
  grpc::ClientContext ctx;
  v1::StartServiceRequest req;
  req.set_name("ready");
  req.add_args("--mode=a; rm -rf /");
  v1::ServiceStatus st;
  EXPECT_EQ(stub_->StartService(&ctx, req, &st).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentServiceTest, ServiceContainerEscapingTheSubtreeIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::StartServiceRequest req;
  req.set_name("ready");
  req.set_container("../../escape");
  v1::ServiceStatus st;
  EXPECT_EQ(stub_->StartService(&ctx, req, &st).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, DeclaredServiceStartsInItsContainerReportsReadyAndStops) {
  grpc::ClientContext c1;
  v1::StartServiceRequest req;
  req.set_name("ready");
  req.add_args("--mode=b");
  v1::ServiceStatus st;
  grpc::Status s = stub_->StartService(&c1, req, &st);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(st.state(), v1::ServiceStatus::STATE_RUNNING);
  EXPECT_EQ(st.ready_info(), "listen=127.0.0.1:1");
  EXPECT_EQ(st.container().path(), "svc/ready");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/svc/ready/cgroup.procs"),
            std::to_string(st.pid()) + "\n");

  grpc::ClientContext c2;
  v1::StartServiceRequest again = req;
  v1::ServiceStatus st2;
  EXPECT_EQ(stub_->StartService(&c2, again, &st2).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  grpc::ClientContext c3;
  v1::StopServiceRequest stop;
  stop.set_name("ready");
  ASSERT_TRUE(stub_->StopService(&c3, stop, &st).ok());
  EXPECT_EQ(st.state(), v1::ServiceStatus::STATE_STOPPED);
  EXPECT_EQ(st.term_signal(), SIGTERM);
  EXPECT_EQ(st.exit_code(), -1);
  EXPECT_THAT(st.stderr_tail(), ElementsAre("starting"));
}

TEST_F(AgentServiceTest, ServiceThatExitsReportsItsExitCodeAndStderrTail) {
  grpc::ClientContext c1;
  v1::StartServiceRequest req;
  req.set_name("fails");
  v1::ServiceStatus st;
  ASSERT_TRUE(stub_->StartService(&c1, req, &st).ok());
  // A real child process: poll until the agent has seen it exit.
  grpc::Status polled;
  EXPECT_TRUE(rcbench::testing::WaitFor(
                  [&] {
                    grpc::ClientContext c;
                    v1::GetServiceStatusRequest get;
                    get.set_name("fails");
                    polled = stub_->GetServiceStatus(&c, get, &st);
                    return !polled.ok() || st.state() == v1::ServiceStatus::STATE_EXITED;
                  },
                  std::chrono::seconds(5), "the service to exit")
                  .ok());
  ASSERT_TRUE(polled.ok()) << polled.error_message();
  EXPECT_EQ(st.state(), v1::ServiceStatus::STATE_EXITED);
  EXPECT_EQ(st.exit_code(), 3);
  EXPECT_THAT(st.stderr_tail(), ElementsAre("first", "boom: hello"));
}

TEST_F(AgentServiceTest, A100KbArgumentIsInvalidArgumentAndTheAgentKeepsServingAndItsState) {
  {
    grpc::ClientContext ctx;
    v1::SetSysctlRequest set;
    set.set_name("net.ipv4.tcp_syncookies");
    set.set_value("0");
    v1::SetSysctlResponse resp;
    ASSERT_TRUE(stub_->SetSysctl(&ctx, set, &resp).ok());
  }
  grpc::ClientContext ctx;
  v1::StartServiceRequest req;
  req.set_name("ready");
  req.add_args("--mode=a");
  req.add_args(std::string(100 << 10, 'a'));
  v1::ServiceStatus st;
  grpc::Status s = stub_->StartService(&ctx, req, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("args[1]: 102400 bytes; the limit is 4096 bytes"));
  // Still serving, and the sysctl it had set is still recorded for restoring.
  grpc::ClientContext c2;
  v1::RestoreSysctlsResponse restored;
  ASSERT_TRUE(stub_->RestoreSysctls(&c2, v1::RestoreSysctlsRequest(), &restored).ok());
  EXPECT_EQ(restored.restored().at("net.ipv4.tcp_syncookies"), "1");
}

TEST_F(AgentServiceTest, TooManyServiceArgumentsAreInvalidArgumentNamingTheLimit) {
  grpc::ClientContext ctx;
  v1::StartServiceRequest req;
  req.set_name("ready");
  for (int i = 0; i < 300; ++i) req.add_args("--mode=a");
  v1::ServiceStatus st;
  grpc::Status s = stub_->StartService(&ctx, req, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("300 arguments; the limit is 256"));
}

TEST_F(AgentServiceTest, ServiceStopsOnSigtermAlthoughTheAgentBlocksIt) {
  // Like rcbench-agent's main(): SIGTERM and SIGINT blocked in the thread that starts services.
  sigset_t blocked, old;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  pthread_sigmask(SIG_BLOCK, &blocked, &old);
  v1::StartServiceRequest req;
  req.set_name("sleeper");
  auto started = services_->Start(req);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(started.ok()) << started.status();

  const auto t0 = std::chrono::steady_clock::now();
  auto stopped = services_->Stop("sleeper", std::chrono::seconds(20));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->term_signal(), SIGTERM);  // not SIGKILL after the grace period
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(AgentServiceTest, StatusOfANeverStartedServiceIsStopped) {
  grpc::ClientContext ctx;
  v1::GetServiceStatusRequest req;
  req.set_name("ready");
  v1::ServiceStatus st;
  ASSERT_TRUE(stub_->GetServiceStatus(&ctx, req, &st).ok());
  EXPECT_EQ(st.state(), v1::ServiceStatus::STATE_STOPPED);
}

}  // namespace
}  // namespace rcbench::agent
