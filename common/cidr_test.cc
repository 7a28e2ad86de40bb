#include "common/cidr.h"

#include <gtest/gtest.h>

namespace rcbench {
namespace {

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

TEST(CidrTest, LoopbackPrefixContainsEvery127Address) {
  auto c = Cidr::Parse("127.0.0.0/8");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Contains(Ip("127.0.0.1")));
  EXPECT_TRUE(c->Contains(Ip("127.255.1.2")));
  EXPECT_FALSE(c->Contains(Ip("128.0.0.1")));
  EXPECT_FALSE(c->Contains(Ip("::1")));
}

TEST(CidrTest, OddPrefixLengthsMaskPartialBytes) {
  auto c = Cidr::Parse("10.213.0.0/30");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Contains(Ip("10.213.0.3")));
  EXPECT_FALSE(c->Contains(Ip("10.213.0.4")));
}

TEST(CidrTest, BareAddressIsAHostPrefix) {
  auto c = Cidr::Parse("::1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->prefix_len(), 128);
  EXPECT_TRUE(c->Contains(Ip("::1")));
  EXPECT_FALSE(c->Contains(Ip("::2")));
  EXPECT_EQ(c->ToString(), "::1/128");
}

TEST(CidrTest, ZeroLengthMatchesItsFamilyOnly) {
  auto c = Cidr::Parse("0.0.0.0/0");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Contains(Ip("8.8.8.8")));
  EXPECT_FALSE(c->Contains(Ip("2001:db8::1")));
}

TEST(CidrTest, RejectsBadInput) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.1/8", "fe80::/129", "x/8", "10.0.0.0/-1",
                          "10.0.0.0/a", "1.2.3/24"}) {
    EXPECT_FALSE(Cidr::Parse(bad).ok()) << bad;
  }
}

TEST(CidrTest, ListParsingAndMembership) {
  auto l = ParseCidrList("127.0.0.0/8, ::1/128");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_TRUE(AnyContains(*l, Ip("::1")));
  EXPECT_FALSE(AnyContains(*l, Ip("192.168.1.1")));
  EXPECT_FALSE(ParseCidrList("127.0.0.0/8,nonsense").ok());
}

TEST(IpAddressTest, SockaddrRoundTrip) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(0x7f000002);
  auto a = IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&sin));
  EXPECT_EQ(a.ToString(), "127.0.0.2");
  EXPECT_EQ(a, Ip("127.0.0.2"));
}

}  // namespace
}  // namespace rcbench
