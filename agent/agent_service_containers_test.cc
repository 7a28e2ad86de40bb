// AgentService's container administration (Create/Update/Delete/ListContainers, confined to
// the root subtree) and ownership: owners recorded at creation, ReleaseOwner.

#include <grpcpp/grpcpp.h>

#include <map>
#include <string>

#include "agent/agent_service.h"
#include "agent/agent_service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent {
namespace {

using testing::AgentServiceTest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace v1 = rcbench::v1;

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
