#include "loadgen/allow_list.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rcbench::loadgen {
namespace {

using ::testing::HasSubstr;

TEST(AllowListTest, DefaultAllowsLoopbackOnly) {
  AllowList allow;
  EXPECT_TRUE(allow.Check(*IpAddress::Parse("127.0.0.1"), "target").ok());
  EXPECT_TRUE(allow.Check(*IpAddress::Parse("127.200.1.2"), "target").ok());
  EXPECT_TRUE(allow.Check(*IpAddress::Parse("::1"), "target").ok());
  EXPECT_FALSE(allow.Check(*IpAddress::Parse("10.0.0.1"), "target").ok());
  EXPECT_FALSE(allow.Check(*IpAddress::Parse("::2"), "target").ok());
}

TEST(AllowListTest, RefusalIsPermissionDeniedNamingTheAddressAndTheFix) {
  AllowList allow;
  const absl::Status s = allow.Check(*IpAddress::Parse("192.0.2.7"), "syn_flood.target");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("syn_flood.target 192.0.2.7"));
  EXPECT_THAT(s.message(), HasSubstr("--allow-target"));
}

TEST(AllowListTest, AddedPrefixIsAllowed) {
  AllowList allow;
  ASSERT_TRUE(allow.Add("10.213.0.0/30").ok());
  EXPECT_TRUE(allow.Check(*IpAddress::Parse("10.213.0.2"), "target").ok());
  EXPECT_FALSE(allow.Check(*IpAddress::Parse("10.213.0.4"), "target").ok());
}

TEST(AllowListTest, BadPrefixIsRejected) {
  AllowList allow;
  const absl::Status s = allow.Add("10.0.0.1/8");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("10.0.0.1/8"));
}

}  // namespace
}  // namespace rcbench::loadgen
