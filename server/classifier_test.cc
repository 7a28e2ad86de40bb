#include "server/classifier.h"

#include <gtest/gtest.h>

namespace rcbench::server {
namespace {

std::vector<ClassConfig> Classes() {
  std::vector<ClassConfig> v;
  v.push_back(*ParseClassSpec("low=127.0.0.0/8"));
  v.push_back(*ParseClassSpec("high=127.0.0.2/32"));
  v.push_back(*ParseClassSpec("default"));
  return v;
}

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

TEST(ClassifierTest, LongestPrefixWins) {
  Classifier c(Classes());
  EXPECT_EQ(c.Classify(Ip("127.0.0.2"), -1), 1);
  EXPECT_EQ(c.Classify(Ip("127.0.0.3"), -1), 0);
}

TEST(ClassifierTest, UnmatchedGoesToDefault) {
  Classifier c(Classes());
  EXPECT_EQ(c.Classify(Ip("10.1.2.3"), -1), 2);
  EXPECT_EQ(c.Classify(Ip("::1"), -1), 2);
}

TEST(ClassifierTest, ListenerClassOverridesPrefix) {
  Classifier c(Classes());
  EXPECT_EQ(c.Classify(Ip("127.0.0.2"), 0), 0);
}

}  // namespace
}  // namespace rcbench::server
