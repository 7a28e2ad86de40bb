#include "common/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rcbench {
namespace {

using std::chrono::nanoseconds;
using ::testing::HasSubstr;

TEST(ParseDurationTest, AcceptsEveryUnit) {
  EXPECT_EQ(*ParseDuration("250ns"), nanoseconds(250));
  EXPECT_EQ(*ParseDuration("3us"), nanoseconds(3'000));
  EXPECT_EQ(*ParseDuration("500ms"), nanoseconds(500'000'000));
  EXPECT_EQ(*ParseDuration("10s"), nanoseconds(10'000'000'000));
  EXPECT_EQ(*ParseDuration("2m"), nanoseconds(120'000'000'000));
  EXPECT_EQ(*ParseDuration("1h"), nanoseconds(3'600'000'000'000));
}

TEST(ParseDurationTest, AcceptsFractionsAndCompoundTerms) {
  EXPECT_EQ(*ParseDuration("1.5s"), nanoseconds(1'500'000'000));
  EXPECT_EQ(*ParseDuration("1m30s"), nanoseconds(90'000'000'000));
  EXPECT_EQ(*ParseDuration(" 0 "), nanoseconds(0));
}

TEST(ParseDurationTest, MissingUnitIsAClearError) {
  auto d = ParseDuration("500");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("\"500\""));
  EXPECT_THAT(d.status().message(), HasSubstr("expected"));
}

TEST(ParseDurationTest, RejectsGarbage) {
  for (const char* bad : {"", "ms", "10 parsecs", "-1s", "1.2.3s", "5sx", "abc"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(ParseDurationTest, RejectsOverflow) { EXPECT_FALSE(ParseDuration("9999999999h").ok()); }

TEST(FormatDurationTest, RoundTripsCommonValues) {
  EXPECT_EQ(FormatDuration(nanoseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(nanoseconds(500'000'000)), "500ms");
  EXPECT_EQ(FormatDuration(nanoseconds(1'500'000'000)), "1.5s");
  EXPECT_EQ(FormatDuration(nanoseconds(90'000'000'000)), "90s");
  EXPECT_EQ(FormatDuration(nanoseconds(120'000'000'000)), "2m");
  for (const char* s : {"250ns", "3us", "500ms", "1.5s", "2m", "1h"}) {
    EXPECT_EQ(*ParseDuration(FormatDuration(*ParseDuration(s))), *ParseDuration(s)) << s;
  }
}

TEST(ParseSizeTest, AcceptsDecimalAndBinaryUnits) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("1KiB"), 1024u);
  EXPECT_EQ(*ParseSize("1kb"), 1000u);
  EXPECT_EQ(*ParseSize("64MiB"), 64u * 1024 * 1024);
  EXPECT_EQ(*ParseSize("2G"), 2'000'000'000u);
  EXPECT_EQ(*ParseSize("1.5KiB"), 1536u);
}

TEST(ParseSizeTest, BadUnitIsAClearError) {
  auto s = ParseSize("1 furlong");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("\"1 furlong\""));
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("0.5B").ok());
  EXPECT_FALSE(ParseSize("99999999TiB").ok());
}

TEST(ParseFractionTest, PercentAndFraction) {
  EXPECT_DOUBLE_EQ(*ParseFraction("30%"), 0.30);
  EXPECT_DOUBLE_EQ(*ParseFraction("0.1"), 0.1);
  EXPECT_DOUBLE_EQ(*ParseFraction("150%", 2.0), 1.5);
  EXPECT_FALSE(ParseFraction("150%").ok());
  EXPECT_FALSE(ParseFraction("-5%").ok());
  EXPECT_FALSE(ParseFraction("lots").ok());
}

TEST(ParseHostPortTest, Ipv4Ipv6AndNames) {
  auto a = ParseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  for (const char* bad : {"127.0.0.1", ":80", "host:99999", "::1:80", "[::1]80", "h:x"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace rcbench
