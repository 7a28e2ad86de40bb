// AgentService as a whole: authorization of every method by token and role, and the health
// service. The other agent_service_*_test.cc files test its methods by area.

#include "agent/agent_service.h"

#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <vector>

#include "agent/agent_service_test_util.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {
namespace {

using testing::AgentServiceTest;
using testing::Slurp;
namespace v1 = rcbench::v1;

const google::protobuf::ServiceDescriptor* AgentDescriptor() {
  return v1::GetHostFactsRequest::descriptor()->file()->FindServiceByName("Agent");
}

TEST_F(AgentServiceTest, HealthServiceAnswersServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
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

}  // namespace
}  // namespace rcbench::agent
