#include "agent/agent_service.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "agent/host_facts.h"
#include "agent/rc_container_admin.h"
#include "common/testing/fake_clock.h"
#include "common/testing/rpc_testing.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "rc/testing/fake_cgroup_tree.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace v1 = rcbench::v1;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const google::protobuf::ServiceDescriptor* AgentDescriptor() {
  return v1::GetHostFactsRequest::descriptor()->file()->FindServiceByName("Agent");
}

class AgentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rc::ContainerSystem::Options rco;
    rco.fs = tree_.fs();
    auto system = rc::ContainerSystem::Open(rco);
    ASSERT_TRUE(system.ok()) << system.status();
    layout_ = CgroupLayout::FromRc((*system)->layout(), *tree_.fs());
    admin_ = std::make_unique<RcContainerAdmin>(std::move(*system), "h1");
    ASSERT_TRUE(admin_->Create("web", {}, false).ok());
    ASSERT_TRUE(admin_->Create("db", {}, false).ok());
    SamplerOptions so;
    so.layout = layout_;
    auto sampler = CgroupSampler::Create(so, &clock_);
    ASSERT_TRUE(sampler.ok());
    AgentOptions ao;
    ao.host = "h1";
    ao.interval = std::chrono::seconds(1);
    ao.retention = std::chrono::seconds(5);  // five reports
    agent_ = std::make_unique<Agent>(ao, std::move(*sampler), nullptr, nullptr, &clock_);

    std::map<std::string, ServiceSpec> specs;
    specs["ready"] = {"ready",
                      {"/bin/sh", "-c",
                       "echo starting >&2; while [ $# -gt 0 ]; do [ \"$1\" = --ready-file ] && "
                       "echo listen=127.0.0.1:1 > \"$2\"; shift; done; exec sleep 30",
                       "ready"},
                      {"--mode=(a|b)"},
                      "svc/ready",
                      "--ready-file",
                      {}};
    specs["fails"] = {
        "fails", {"/bin/sh", "-c", "echo first >&2; echo boom: $GREETING >&2; exit 3"},
        {},      "svc/fails",
        "",      {{"GREETING", "hello"}}};
    specs["sleeper"] = {"sleeper", {"/bin/sleep", "30"}, {}, "svc/sleeper", "", {}};
    state_dir_ = tree_.root() + "/state";
    journal_ = std::make_unique<Journal>("");
    services_ = std::make_unique<ServiceManager>(specs, admin_.get(), state_dir_, "h1",
                                                 ServiceLimits{}, journal_.get());

    sys_dir_ = tree_.root() + "/procsys";
    std::filesystem::create_directories(sys_dir_ + "/net/ipv4");
    std::filesystem::create_directories(sys_dir_ + "/net/core");
    std::ofstream(sys_dir_ + "/net/ipv4/tcp_syncookies") << "1\n";
    std::ofstream(sys_dir_ + "/net/core/somaxconn") << "4096\n";
    sysctls_ = std::make_unique<SysctlStore>(sys_dir_,
                                             std::vector<std::string>{"net.ipv4.tcp_syncookies"});
    CgroupLayout layout = layout_;
    SysctlStore* sysctls = sysctls_.get();
    impl_ = std::make_unique<AgentServiceImpl>(
        agent_.get(), admin_.get(), services_.get(), sysctls_.get(),
        [layout, sysctls](const std::vector<std::string>& extra) {
          std::vector<std::string> names = {"net.core.somaxconn"};
          names.insert(names.end(), extra.begin(), extra.end());
          return CollectHostFacts({}, layout, *sysctls, names);
        },
        rcbench::testing::TestAuthorizer("rcbench-agent"), journal_.get());
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.RegisterService(impl_.get());
    server_ = builder.BuildAndStart();
    channel_ =
        rcbench::testing::InProcessChannelWithToken(server_.get(), rcbench::testing::kControlToken);
    stub_ = v1::Agent::NewStub(channel_);
  }

  void TearDown() override {
    impl_->Shutdown();
    server_->Shutdown();
    services_.reset();
  }

  // Reads reports until `n` arrived.
  std::vector<uint64_t> Read(grpc::ClientReader<v1::UsageReport>* reader, int n,
                             std::vector<v1::UsageReport>* reports = nullptr) {
    std::vector<uint64_t> seqs;
    v1::UsageReport r;
    while (static_cast<int>(seqs.size()) < n && reader->Read(&r)) {
      seqs.push_back(r.sequence());
      if (reports) reports->push_back(r);
    }
    return seqs;
  }

  void SampleTimes(int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(std::chrono::seconds(1));
      agent_->SampleOnce();
    }
  }

  // Declared first: destroyed last, after everything that uses its files.
  rc::testing::FakeCgroupTree tree_{rc::testing::FakeCgroupTree::Kind::kV2};
  CgroupLayout layout_;
  rcbench::testing::FakeClock clock_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<RcContainerAdmin> admin_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<ServiceManager> services_;
  std::unique_ptr<SysctlStore> sysctls_;
  std::unique_ptr<AgentServiceImpl> impl_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  std::string state_dir_, sys_dir_;
};

TEST_F(AgentServiceTest, SubscribeFromZeroStartsWithTheNewestReportThenLiveOnes) {
  SampleTimes(3);
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  EXPECT_THAT(Read(reader.get(), 1, &reports), ElementsAre(3u));
  SampleTimes(2);
  EXPECT_THAT(Read(reader.get(), 2), ElementsAre(4u, 5u));
  EXPECT_EQ(reports[0].containers_size(), 3);
  EXPECT_EQ(reports[0].agent_instance(), agent_->instance());
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, ResumeAfterDisconnectLosesAndRepeatsNothing) {
  SampleTimes(1);
  std::vector<uint64_t> seen;
  {
    grpc::ClientContext ctx;
    auto reader = stub_->SubscribeUsage(&ctx, v1::SubscribeUsageRequest());
    auto first = Read(reader.get(), 1);
    seen.insert(seen.end(), first.begin(), first.end());
    SampleTimes(3);
    auto more = Read(reader.get(), 3);
    seen.insert(seen.end(), more.begin(), more.end());
    ctx.TryCancel();  // the subscriber goes away
    reader->Finish();
  }
  SampleTimes(3);  // reports 5..7 are produced while nobody listens
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.set_resume_after_sequence(seen.back());
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  auto replay = Read(reader.get(), 3, &reports);
  seen.insert(seen.end(), replay.begin(), replay.end());
  SampleTimes(1);
  auto live = Read(reader.get(), 1);
  seen.insert(seen.end(), live.begin(), live.end());
  EXPECT_THAT(seen, ElementsAre(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));
  EXPECT_EQ(reports[0].missed_reports(), 0u);
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, ResumeFromBeyondTheRingSaysHowManyWereMissed) {
  SampleTimes(10);  // the ring keeps 6..10
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.set_resume_after_sequence(2);
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  EXPECT_THAT(Read(reader.get(), 5, &reports), ElementsAre(6u, 7u, 8u, 9u, 10u));
  EXPECT_EQ(reports[0].missed_reports(), 3u);
  EXPECT_EQ(reports[1].missed_reports(), 0u);
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, PathPrefixesSelectWholeComponents) {
  ASSERT_TRUE(admin_->Create("web2", {}, false).ok());
  SampleTimes(1);
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.add_path_prefixes("web");
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  Read(reader.get(), 1, &reports);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].containers_size(), 1);
  EXPECT_EQ(reports[0].containers(0).id().path(), "web");
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, SubscribeWithAnEscapingPrefixIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.add_path_prefixes("../x");
  auto reader = stub_->SubscribeUsage(&ctx, req);
  v1::UsageReport r;
  EXPECT_FALSE(reader->Read(&r));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, ContainerPathsEscapingTheSubtreeAreInvalidArgument) {
  for (const std::string& path :
       {std::string("../etc"), std::string("/abs"), std::string("a/../b"), std::string("a//b"),
        std::string("x\x01y"), std::string(""), std::string("a\0b", 3), std::string(2000, 'a')}) {
    grpc::ClientContext ctx;
    v1::CreateContainerRequest req;
    req.set_path(path);
    v1::ContainerInfo info;
    EXPECT_EQ(stub_->CreateContainer(&ctx, req, &info).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << path;
  }
  EXPECT_FALSE(tree_.Exists("/sys/fs/etc"));
}

TEST_F(AgentServiceTest, CreatedContainerIsListedSampledAndDeleted) {
  grpc::ClientContext c1;
  v1::CreateContainerRequest create;
  create.set_path("exp1/high");
  create.mutable_attributes()->set_cpu_weight(200);
  v1::ContainerInfo info;
  ASSERT_TRUE(stub_->CreateContainer(&c1, create, &info).ok());
  EXPECT_EQ(info.id().path(), "exp1/high");
  EXPECT_EQ(tree_.Read("/sys/fs/cgroup/rcbench/exp1/high/cpu.weight"), "200");

  grpc::ClientContext c2;
  v1::ListContainersRequest list;
  list.set_path_prefix("exp1");
  v1::ListContainersResponse listed;
  ASSERT_TRUE(stub_->ListContainers(&c2, list, &listed).ok());
  ASSERT_EQ(listed.containers_size(), 2);
  EXPECT_EQ(listed.containers(1).id().path(), "exp1/high");

  auto report = agent_->SampleOnce();
  bool seen = false;
  for (const auto& c : report->containers()) seen |= c.id().path() == "exp1/high";
  EXPECT_TRUE(seen);

  grpc::ClientContext c3;
  v1::DeleteContainerRequest del;
  del.set_path("exp1");
  v1::DeleteContainerResponse resp;
  EXPECT_EQ(stub_->DeleteContainer(&c3, del, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  grpc::ClientContext c4;
  del.set_recursive(true);
  EXPECT_TRUE(stub_->DeleteContainer(&c4, del, &resp).ok());
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/rcbench/exp1"));
}

TEST_F(AgentServiceTest, CreatingAnExistingContainerNeedsExistOk) {
  grpc::ClientContext c1, c2;
  v1::CreateContainerRequest req;
  req.set_path("web");
  v1::ContainerInfo info;
  EXPECT_EQ(stub_->CreateContainer(&c1, req, &info).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  req.set_exist_ok(true);
  EXPECT_TRUE(stub_->CreateContainer(&c2, req, &info).ok());
}

TEST_F(AgentServiceTest, DeletingAMissingContainerIsNotFound) {
  grpc::ClientContext ctx;
  v1::DeleteContainerRequest req;
  req.set_path("nope");
  v1::DeleteContainerResponse resp;
  EXPECT_EQ(stub_->DeleteContainer(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AgentServiceTest, OutOfRangeAttributeIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::UpdateContainerRequest req;
  req.set_path("web");
  req.mutable_attributes()->set_cpu_weight(0);
  v1::ContainerInfo info;
  EXPECT_EQ(stub_->UpdateContainer(&ctx, req, &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

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

TEST_F(AgentServiceTest, AOneByteMemoryLimitIsRefusedNotTurnedIntoNoLimit) {
  grpc::ClientContext ctx;
  v1::CreateContainerRequest req;
  req.set_path("tiny");
  req.mutable_attributes()->set_memory_limit_bytes(1);
  v1::ContainerInfo info;
  grpc::Status s = stub_->CreateContainer(&ctx, req, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("attributes.memory_limit_bytes: 1 is below the minimum of 1048576"));
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/rcbench/tiny"));

  grpc::ClientContext c2;
  v1::StartServiceRequest start;
  start.set_name("sleeper");
  start.mutable_container_attributes()->set_memory_limit_bytes(1);
  v1::ServiceStatus st;
  s = stub_->StartService(&c2, start, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("container_attributes.memory_limit_bytes"));
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

TEST_F(AgentServiceTest, ResumeBeyondTheNewestReportStartsWithTheNewestInsteadOfHanging) {
  SampleTimes(3);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::SubscribeUsageRequest req;
  req.set_resume_after_sequence(1'000'000);
  auto reader = stub_->SubscribeUsage(&ctx, req);
  EXPECT_THAT(Read(reader.get(), 1), ElementsAre(3u));
  SampleTimes(1);
  EXPECT_THAT(Read(reader.get(), 1), ElementsAre(4u));
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, ReportsCountContainersThatCouldNotBeSampled) {
  SampleTimes(1);
  grpc::ClientContext ctx;
  v1::SubscribeUsageRequest req;
  req.add_path_prefixes("web");
  auto reader = stub_->SubscribeUsage(&ctx, req);
  std::vector<v1::UsageReport> reports;
  Read(reader.get(), 1, &reports);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].containers_not_sampled(), 0u);  // the field survives filtering
  ctx.TryCancel();
}

TEST_F(AgentServiceTest, StatusOfANeverStartedServiceIsStopped) {
  grpc::ClientContext ctx;
  v1::GetServiceStatusRequest req;
  req.set_name("ready");
  v1::ServiceStatus st;
  ASSERT_TRUE(stub_->GetServiceStatus(&ctx, req, &st).ok());
  EXPECT_EQ(st.state(), v1::ServiceStatus::STATE_STOPPED);
}

TEST_F(AgentServiceTest, SysctlOutsideTheAllowListIsPermissionDenied) {
  grpc::ClientContext ctx;
  v1::SetSysctlRequest req;
  req.set_name("net.core.somaxconn");
  req.set_value("1");
  v1::SetSysctlResponse resp;
  EXPECT_EQ(stub_->SetSysctl(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Slurp(sys_dir_ + "/net/core/somaxconn"), "4096\n");
}

TEST_F(AgentServiceTest, SysctlNameWithPathTricksIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::SetSysctlRequest req;
  req.set_name("net/../../etc/passwd");
  req.set_value("x");
  v1::SetSysctlResponse resp;
  EXPECT_EQ(stub_->SetSysctl(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, AllowedSysctlIsSetAndItsOriginalRestored) {
  v1::SetSysctlRequest req;
  req.set_name("net.ipv4.tcp_syncookies");
  v1::SetSysctlResponse resp;
  for (const char* value : {"0", "2"}) {
    grpc::ClientContext ctx;
    req.set_value(value);
    ASSERT_TRUE(stub_->SetSysctl(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(resp.previous_value(), "0");
  EXPECT_EQ(resp.original_value(), "1");
  EXPECT_EQ(Slurp(sys_dir_ + "/net/ipv4/tcp_syncookies"), "2");
  grpc::ClientContext ctx;
  v1::RestoreSysctlsResponse restored;
  ASSERT_TRUE(stub_->RestoreSysctls(&ctx, v1::RestoreSysctlsRequest(), &restored).ok());
  EXPECT_EQ(restored.restored().at("net.ipv4.tcp_syncookies"), "1");
  EXPECT_EQ(Slurp(sys_dir_ + "/net/ipv4/tcp_syncookies"), "1");
}

TEST_F(AgentServiceTest, HostFactsCarryTheCgroupModeAndSysctls) {
  grpc::ClientContext ctx;
  v1::GetHostFactsRequest req;
  req.add_sysctls("net.ipv4.tcp_syncookies");
  v1::HostFacts facts;
  ASSERT_TRUE(stub_->GetHostFacts(&ctx, req, &facts).ok());
  EXPECT_EQ(facts.cgroup_mode(), rcbench::v1::CGROUP_MODE_V2);
  EXPECT_EQ(facts.sysctls().at("net.core.somaxconn"), "4096");
  EXPECT_EQ(facts.sysctls().at("net.ipv4.tcp_syncookies"), "1");
  EXPECT_FALSE(facts.kernel_release().empty());
  EXPECT_GT(facts.cpu_count(), 0u);
}

TEST_F(AgentServiceTest, HealthServiceAnswersServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(AgentServiceTest, ShutdownEndsOpenSubscriptions) {
  SampleTimes(1);
  grpc::ClientContext ctx;
  auto reader = stub_->SubscribeUsage(&ctx, v1::SubscribeUsageRequest());
  Read(reader.get(), 1);
  impl_->Shutdown();
  v1::UsageReport r;
  while (reader->Read(&r)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(AgentServiceTest, HostFactsWithholdSysctlsOnlyRootMayRead) {
  std::filesystem::create_directories(sys_dir_ + "/kernel");
  std::ofstream(sys_dir_ + "/kernel/cad_pid") << "1\n";
  chmod((sys_dir_ + "/kernel/cad_pid").c_str(), 0600);
  grpc::ClientContext ctx;
  v1::GetHostFactsRequest req;
  req.add_sysctls("kernel.cad_pid");
  v1::HostFacts facts;
  ASSERT_TRUE(stub_->GetHostFacts(&ctx, req, &facts).ok());
  EXPECT_EQ(facts.sysctls().count("kernel.cad_pid"), 0u);
  EXPECT_EQ(facts.sysctls().at("net.core.somaxconn"), "4096");
}

TEST_F(AgentServiceTest, EveryMethodRefusesACallWithoutAToken) {
  auto anonymous = rcbench::testing::InProcessChannelWithToken(server_.get(), "");
  auto results = rcbench::testing::CallEachMethod(anonymous, AgentDescriptor());
  ASSERT_EQ(results.size(), static_cast<size_t>(AgentDescriptor()->method_count()));
  ASSERT_EQ(results.size(), 12u);
  for (const auto& [method, status] : results) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("no token")) << method;
  }
}

TEST_F(AgentServiceTest, AWrongTokenIsRefusedAndNothingChanges) {
  auto wrong = rcbench::testing::InProcessChannelWithToken(
      server_.get(), std::string(rcbench::testing::kControlToken) + "x");
  auto stub = v1::Agent::NewStub(wrong);
  grpc::ClientContext ctx;
  v1::SetSysctlRequest req;
  req.set_name("net.ipv4.tcp_syncookies");
  req.set_value("0");
  v1::SetSysctlResponse resp;
  grpc::Status s = stub->SetSysctl(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("a wrong token"));
  EXPECT_EQ(Slurp(sys_dir_ + "/net/ipv4/tcp_syncookies"), "1\n");
}

TEST_F(AgentServiceTest, TheReadRoleMayLookButNotChangeTheHost) {
  auto reader =
      rcbench::testing::InProcessChannelWithToken(server_.get(), rcbench::testing::kReadToken);
  std::vector<std::string> mutating;
  for (const std::string& m : AgentServiceImpl::MutatingMethods()) {
    mutating.push_back(m.substr(m.rfind('/') + 1));
  }
  EXPECT_THAT(mutating, ::testing::Contains("ReleaseOwner"));
  auto denied = rcbench::testing::CallEachMethod(reader, AgentDescriptor(), mutating);
  ASSERT_EQ(denied.size(), 8u);
  for (const auto& [method, status] : denied) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method;
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("needs the control role")) << method;
  }
  EXPECT_EQ(Slurp(sys_dir_ + "/net/ipv4/tcp_syncookies"), "1\n");
  auto stub = v1::Agent::NewStub(reader);
  grpc::ClientContext ctx;
  v1::HostFacts facts;
  EXPECT_TRUE(stub->GetHostFacts(&ctx, v1::GetHostFactsRequest(), &facts).ok());
  grpc::ClientContext list_ctx;
  v1::ListContainersResponse list;
  EXPECT_TRUE(stub->ListContainers(&list_ctx, v1::ListContainersRequest(), &list).ok());
}

TEST_F(AgentServiceTest, EveryMethodOutsideTheReadRoleIsAuditedAsMutating) {
  const std::set<std::string> read = {"GetHostFacts", "SubscribeUsage", "ListContainers",
                                      "GetServiceStatus"};
  std::set<std::string> mutating;
  for (const std::string& m : AgentServiceImpl::MutatingMethods()) {
    mutating.insert(m.substr(m.rfind('/') + 1));
  }
  for (int i = 0; i < AgentDescriptor()->method_count(); ++i) {
    const std::string name = AgentDescriptor()->method(i)->name();
    EXPECT_NE(read.count(name) + mutating.count(name), 0u) << name << " is in neither role list";
  }
}

grpc::Status CreateOwned(v1::Agent::Stub* stub, const std::string& path, const std::string& owner,
                         v1::ContainerInfo* info) {
  grpc::ClientContext ctx;
  v1::CreateContainerRequest req;
  req.set_path(path);
  req.set_owner(owner);
  return stub->CreateContainer(&ctx, req, info);
}

TEST_F(AgentServiceTest, CreatedContainersReportTheirOwner) {
  v1::ContainerInfo info;
  ASSERT_TRUE(CreateOwned(stub_.get(), "exp1/high", "run-1", &info).ok());
  EXPECT_EQ(info.owner(), "run-1");
  grpc::ClientContext ctx;
  v1::ListContainersResponse listed;
  ASSERT_TRUE(stub_->ListContainers(&ctx, v1::ListContainersRequest(), &listed).ok());
  std::map<std::string, std::string> owners;
  for (const auto& c : listed.containers()) owners[c.id().path()] = c.owner();
  EXPECT_EQ(owners["exp1"], "run-1");  // a parent the call created
  EXPECT_EQ(owners["exp1/high"], "run-1");
  EXPECT_EQ(owners["web"], "");  // not created through the RPC
}

TEST_F(AgentServiceTest, ABadOwnerIsInvalidArgumentNamingTheField) {
  v1::ContainerInfo info;
  grpc::Status s = CreateOwned(stub_.get(), "exp1", "run 1", &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("owner: character 3"));
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/rcbench/exp1"));
}

TEST_F(AgentServiceTest, ReleaseOwnerStopsItsServiceAndRemovesItsContainersOnly) {
  v1::ContainerInfo info;
  ASSERT_TRUE(CreateOwned(stub_.get(), "exp1/high", "run-1", &info).ok());
  ASSERT_TRUE(CreateOwned(stub_.get(), "exp1/low", "run-1", &info).ok());
  ASSERT_TRUE(CreateOwned(stub_.get(), "other", "run-2", &info).ok());
  ASSERT_TRUE(CreateOwned(stub_.get(), "free", "", &info).ok());
  v1::ServiceStatus st;
  {
    grpc::ClientContext ctx;
    v1::StartServiceRequest req;
    req.set_name("sleeper");
    req.set_owner("run-1");
    ASSERT_TRUE(stub_->StartService(&ctx, req, &st).ok());
    EXPECT_EQ(st.owner(), "run-1");
  }

  grpc::ClientContext ctx;
  v1::ReleaseOwnerRequest req;
  req.set_owner("run-1");
  req.mutable_grace()->set_seconds(2);
  v1::ReleaseOwnerResponse resp;
  grpc::Status s = stub_->ReleaseOwner(&ctx, req, &resp);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.stopped_services(), ElementsAre("sleeper"));
  // svc/sleeper and svc were created by the start, deepest first.
  EXPECT_THAT(resp.removed_containers(),
              ElementsAre("exp1/high", "exp1/low", "svc/sleeper", "exp1", "svc"));
  EXPECT_THAT(resp.kept_containers(), ElementsAre());
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/rcbench/exp1"));
  EXPECT_FALSE(tree_.Exists("/sys/fs/cgroup/rcbench/svc"));
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/rcbench/other"));
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/rcbench/free"));
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/rcbench/web"));
  grpc::ClientContext c2;
  v1::GetServiceStatusRequest get;
  get.set_name("sleeper");
  ASSERT_TRUE(stub_->GetServiceStatus(&c2, get, &st).ok());
  EXPECT_EQ(st.state(), v1::ServiceStatus::STATE_STOPPED);
}

TEST_F(AgentServiceTest, ReleasingAnUnknownOwnerTwiceIsOkWithEmptyLists) {
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    v1::ReleaseOwnerRequest req;
    req.set_owner("never-seen");
    v1::ReleaseOwnerResponse resp;
    ASSERT_TRUE(stub_->ReleaseOwner(&ctx, req, &resp).ok());
    EXPECT_EQ(
        resp.stopped_services_size() + resp.removed_containers_size() + resp.kept_containers_size(),
        0);
  }
}

TEST_F(AgentServiceTest, ReleaseOwnerKeepsAContainerWithChildrenOfAnotherOwnerSayingWhy) {
  v1::ContainerInfo info;
  ASSERT_TRUE(CreateOwned(stub_.get(), "exp1", "run-1", &info).ok());
  ASSERT_TRUE(CreateOwned(stub_.get(), "exp1/theirs", "run-2", &info).ok());
  grpc::ClientContext ctx;
  v1::ReleaseOwnerRequest req;
  req.set_owner("run-1");
  v1::ReleaseOwnerResponse resp;
  ASSERT_TRUE(stub_->ReleaseOwner(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.kept_containers_size(), 1);
  EXPECT_THAT(resp.kept_containers(0), ::testing::StartsWith("exp1: "));
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/rcbench/exp1/theirs"));
}

TEST_F(AgentServiceTest, ReleaseOwnerWithoutAnOwnerIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::ReleaseOwnerResponse resp;
  grpc::Status s = stub_->ReleaseOwner(&ctx, v1::ReleaseOwnerRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("owner"));
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/rcbench/web"));
}

TEST_F(AgentServiceTest, ADeletedContainerIsNoLongerReleasedLater) {
  v1::ContainerInfo info;
  ASSERT_TRUE(CreateOwned(stub_.get(), "exp1", "run-1", &info).ok());
  {
    grpc::ClientContext ctx;
    v1::DeleteContainerRequest del;
    del.set_path("exp1");
    v1::DeleteContainerResponse resp;
    ASSERT_TRUE(stub_->DeleteContainer(&ctx, del, &resp).ok());
  }
  ASSERT_TRUE(admin_->Create("exp1", {}, false).ok());  // someone else's now
  grpc::ClientContext ctx;
  v1::ReleaseOwnerRequest req;
  req.set_owner("run-1");
  v1::ReleaseOwnerResponse resp;
  ASSERT_TRUE(stub_->ReleaseOwner(&ctx, req, &resp).ok());
  EXPECT_THAT(resp.removed_containers(), ElementsAre());
  EXPECT_TRUE(tree_.Exists("/sys/fs/cgroup/rcbench/exp1"));
}

}  // namespace
}  // namespace rcbench::agent
