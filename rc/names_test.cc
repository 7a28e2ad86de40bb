#include "rc/names.h"

#include <string>

#include "gtest/gtest.h"

namespace rcbench::rc {
namespace {

TEST(RcNamesTest, OrdinaryNamesAreValid) {
  EXPECT_TRUE(ValidateName("web").ok());
  EXPECT_TRUE(ValidateName("conn-17_a.b").ok());
}

TEST(RcNamesTest, DotAndDotDotAreRejected) {
  EXPECT_EQ(ValidateName(".").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateName("..").code(), absl::StatusCode::kInvalidArgument);
}

TEST(RcNamesTest, SlashNulAndControlCharactersAreRejected) {
  EXPECT_FALSE(ValidateName("a/b").ok());
  EXPECT_FALSE(ValidateName(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ValidateName("a\nb").ok());
  EXPECT_FALSE(ValidateName("a\x7f").ok());
  EXPECT_FALSE(ValidateName("a b").ok());
}

TEST(RcNamesTest, ErrorNamesTheOffendingNameEscaped) {
  absl::Status s = ValidateName("bad\x01name");
  EXPECT_NE(s.message().find("bad\\x01name"), absl::string_view::npos) << s;
}

TEST(RcNamesTest, OverlongNamesAreRejected) {
  EXPECT_TRUE(ValidateName(std::string(kMaxNameLength, 'a')).ok());
  EXPECT_FALSE(ValidateName(std::string(kMaxNameLength + 1, 'a')).ok());
}

TEST(RcNamesTest, ControlFilePrefixesAreRejected) {
  EXPECT_FALSE(ValidateName("cgroup.procs").ok());
  EXPECT_FALSE(ValidateName("cpu.max").ok());
  EXPECT_FALSE(ValidateName("tasks").ok());
}

TEST(RcNamesTest, EmptyPathIsTheSubtree) {
  auto parts = SplitPath("");
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->empty());
}

TEST(RcNamesTest, PathsWithEscapingComponentsAreRejected) {
  EXPECT_FALSE(ValidatePath("a/../b").ok());
  EXPECT_FALSE(ValidatePath("/a").ok());
  EXPECT_FALSE(ValidatePath("a/").ok());
  EXPECT_FALSE(ValidatePath("a//b").ok());
  EXPECT_TRUE(ValidatePath("a/b/c").ok());
}

TEST(RcNamesTest, TooDeepPathsAreRejected) {
  std::string path = "a";
  for (size_t i = 1; i < kMaxPathDepth; ++i) path += "/a";
  EXPECT_TRUE(ValidatePath(path).ok());
  EXPECT_FALSE(ValidatePath(path + "/a").ok());
}

TEST(RcNamesTest, PathHelpersSplitAndJoin) {
  EXPECT_EQ(JoinPath("", "b"), "b");
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(ParentPath("a/b/c"), "a/b");
  EXPECT_EQ(ParentPath("a"), "");
  EXPECT_EQ(BaseName("a/b"), "b");
  EXPECT_TRUE(IsSameOrBelow("a/b", "a"));
  EXPECT_TRUE(IsSameOrBelow("a", "a"));
  EXPECT_FALSE(IsSameOrBelow("ab", "a"));
  EXPECT_TRUE(IsSameOrBelow("x", ""));
}

}  // namespace
}  // namespace rcbench::rc
