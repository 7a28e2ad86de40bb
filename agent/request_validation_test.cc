#include "agent/request_validation.h"

#include <limits>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

using ::testing::HasSubstr;
namespace v1 = rcbench::v1;

google::protobuf::RepeatedPtrField<std::string> Args(std::initializer_list<std::string> args) {
  google::protobuf::RepeatedPtrField<std::string> out;
  for (const std::string& a : args) *out.Add() = a;
  return out;
}

ServiceSpec Spec(std::vector<std::string> patterns) {
  ServiceSpec s;
  s.name = "svc";
  s.command = {"/bin/true"};
  s.allowed_args = std::move(patterns);
  return s;
}

TEST(ValidateServiceArgsTest, A100KbArgumentIsRefusedBeforeAnyPatternRuns) {
  // "(a|b)*" over 100 KB of 'a' overflows the stack in libstdc++'s recursive matcher.
  absl::Status s = ValidateServiceArgs(Spec({"(a|b)*"}), Args({"--x", std::string(100 << 10, 'a')}),
                                       ServiceLimits{});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("args[1]: 102400 bytes; the limit is 4096 bytes"));
}

TEST(ValidateServiceArgsTest, AnArgumentAtTheLimitIsMatchedWithoutCrashing) {
  EXPECT_TRUE(
      ValidateServiceArgs(Spec({"(a|b)*"}), Args({std::string(4096, 'a')}), ServiceLimits{}).ok());
}

TEST(ValidateServiceArgsTest, TooManyArgumentsNameTheLimit) {
  google::protobuf::RepeatedPtrField<std::string> args;
  for (int i = 0; i < 257; ++i) *args.Add() = "a";
  absl::Status s = ValidateServiceArgs(Spec({"a"}), args, ServiceLimits{});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("257 arguments; the limit is 256"));
}

TEST(ValidateServiceArgsTest, LimitsAreConfigurable) {
  ServiceLimits limits;
  limits.max_arg_bytes = 3;
  EXPECT_EQ(ValidateServiceArgs(Spec({"a*"}), Args({"aaaa"}), limits).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateServiceArgs(Spec({"a*"}), Args({"aaa"}), limits).ok());
}

TEST(ValidateServiceArgsTest, ArgumentMatchingNoPatternIsPermissionDeniedNamingItsIndex) {
  absl::Status s =
      ValidateServiceArgs(Spec({"--mode=(a|b)"}), Args({"--mode=a", "--mode=c"}), ServiceLimits{});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("args[1]"));
}

TEST(ValidateContainerAttributesTest, OneByteMemoryLimitIsRefusedNamingTheMinimum) {
  v1::ContainerAttributes a;
  a.set_memory_limit_bytes(1);
  absl::Status s = ValidateContainerAttributes(a, "attributes");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("attributes.memory_limit_bytes: 1 is below the minimum of "
                                     "1048576 bytes"));
}

TEST(ValidateContainerAttributesTest, ZeroStillRemovesTheLimitAndOneMebibyteIsAccepted) {
  v1::ContainerAttributes a;
  a.set_memory_limit_bytes(0);
  EXPECT_TRUE(ValidateContainerAttributes(a, "attributes").ok());
  a.set_memory_limit_bytes(kMinMemoryLimitBytes);
  EXPECT_TRUE(ValidateContainerAttributes(a, "attributes").ok());
}

TEST(ValidateContainerAttributesTest, NonFiniteCpuLimitAndHugePidsLimitAreRefused) {
  v1::ContainerAttributes a;
  a.set_cpu_limit_cores(std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(ValidateContainerAttributes(a, "attributes").message(),
              HasSubstr("attributes.cpu_limit_cores"));
  v1::ContainerAttributes p;
  p.set_pids_limit(kMaxPidsLimit + 1);
  EXPECT_THAT(ValidateContainerAttributes(p, "attributes").message(),
              HasSubstr("attributes.pids_limit"));
}

TEST(ValidateStartServiceRequestTest, TinyMemoryLimitNamesTheContainerAttributesField) {
  std::map<std::string, ServiceSpec> specs = {{"svc", Spec({})}};
  v1::StartServiceRequest req;
  req.set_name("svc");
  req.mutable_container_attributes()->set_memory_limit_bytes(4095);
  absl::Status s = ValidateStartServiceRequest(req, specs, ServiceLimits{});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("container_attributes.memory_limit_bytes"));
}

TEST(ValidateStartServiceRequestTest, UndeclaredServiceIsNotFound) {
  v1::StartServiceRequest req;
  req.set_name(std::string(1000, 'x'));
  EXPECT_EQ(ValidateStartServiceRequest(req, {}, ServiceLimits{}).code(),
            absl::StatusCode::kNotFound);
}

TEST(ResumeAfterTest, ASequenceBeyondTheNewestStartsWithTheNewest) {
  EXPECT_EQ(ResumeAfter(1'000'000, 7), 6u);
  EXPECT_EQ(ResumeAfter(0, 7), 6u);
  EXPECT_EQ(ResumeAfter(7, 7), 7u);  // caught up: waits for 8
  EXPECT_EQ(ResumeAfter(3, 7), 3u);
  EXPECT_EQ(ResumeAfter(5, 0), 0u);  // nothing sampled yet: waits for 1
}

TEST(ValidateSubscribeUsageRequestTest, AnEscapingPrefixNamesItsIndex) {
  v1::SubscribeUsageRequest req;
  req.add_path_prefixes("web");
  req.add_path_prefixes("../x");
  absl::Status s = ValidateSubscribeUsageRequest(req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("path_prefixes[1]"));
}

TEST(ValidateOwnerTest, EmptyMeansNoOwnerAndIsAccepted) {
  EXPECT_TRUE(ValidateOwner("", "owner").ok());
}

TEST(ValidateOwnerTest, RunIdsOfTheAllowedCharactersAreAccepted) {
  EXPECT_TRUE(ValidateOwner("smoke-3f2a.run_1:x", "owner").ok());
  EXPECT_TRUE(ValidateOwner(std::string(kMaxOwnerBytes, 'a'), "owner").ok());
}

TEST(ValidateOwnerTest, AnOwnerOverTheLimitIsRefusedNamingTheFieldAndLimit) {
  absl::Status s = ValidateOwner(std::string(kMaxOwnerBytes + 1, 'a'), "owner");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("owner: 129 bytes; the limit is 128"));
}

TEST(ValidateOwnerTest, ASlashSpaceOrControlCharacterIsRefusedNamingItsPosition) {
  for (const std::string& bad :
       {std::string("a/b"), std::string("a b"), std::string("a\nb"), std::string("a\0b", 3)}) {
    absl::Status s = ValidateOwner(bad, "owner");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("owner: character 1 of")) << bad;
  }
}

TEST(ValidateCreateContainerRequestTest, ABadOwnerIsInvalidArgumentNamingTheField) {
  v1::CreateContainerRequest req;
  req.set_path("web");
  req.set_owner("run/1");
  absl::Status s = ValidateCreateContainerRequest(req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("owner: "));
}

TEST(ValidateStartServiceRequestTest, ABadOwnerIsInvalidArgumentNamingTheField) {
  std::map<std::string, ServiceSpec> specs = {{"svc", Spec({})}};
  v1::StartServiceRequest req;
  req.set_name("svc");
  req.set_owner(std::string(200, 'x'));
  absl::Status s = ValidateStartServiceRequest(req, specs, ServiceLimits{});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("owner: 200 bytes"));
}

TEST(ValidateReleaseOwnerRequestTest, AnEmptyOwnerIsRefusedSoNothingUnownedIsReleased) {
  v1::ReleaseOwnerRequest req;
  absl::Status s = ValidateReleaseOwnerRequest(req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("owner: must not be empty"));
}

TEST(ValidateReleaseOwnerRequestTest, ANegativeGraceIsRefused) {
  v1::ReleaseOwnerRequest req;
  req.set_owner("run-1");
  req.mutable_grace()->set_seconds(-1);
  EXPECT_THAT(ValidateReleaseOwnerRequest(req).message(), HasSubstr("grace"));
}

TEST(ReleaseGraceTest, DefaultsToFiveSecondsAndIsCappedAtThirty) {
  v1::ReleaseOwnerRequest req;
  EXPECT_EQ(ReleaseGrace(req), std::chrono::seconds(5));
  req.mutable_grace()->set_seconds(3600);
  EXPECT_EQ(ReleaseGrace(req), std::chrono::seconds(30));
  req.mutable_grace()->set_seconds(1);
  req.mutable_grace()->set_nanos(500'000'000);
  EXPECT_EQ(ReleaseGrace(req), std::chrono::milliseconds(1500));
}

}  // namespace
}  // namespace rcbench::agent
