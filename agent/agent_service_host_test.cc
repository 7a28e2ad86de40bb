// AgentService's view of the host: GetHostFacts and the allow-listed sysctls
// (SetSysctl, RestoreSysctls).

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "agent/agent_service.h"
#include "agent/agent_service_test_util.h"
#include "gtest/gtest.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {
namespace {

using testing::AgentServiceTest;
using testing::Slurp;
namespace v1 = rcbench::v1;

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

}  // namespace
}  // namespace rcbench::agent
