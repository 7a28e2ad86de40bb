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

// A table shaped like the load generator's: wrk's short forms beside long flags.
constexpr FlagSpec kTable[] = {
    {"threads", 't', true},
    {"connections", 'c', true},
    {"duration", 'd', true, false, "a duration"},
    {"header", 'H', true, true},
    {"latency", '\0', false},
    {"listen", '\0', true, false, "HOST:PORT"},
    {"help", 'h', false},
};

absl::StatusOr<ParsedFlags> Parse(std::vector<std::string> args) {
  return ParseFlags(args, kTable);
}

TEST(ParseFlagsTest, AcceptsWrkShortFormsJoinedAndSeparate) {
  auto f = Parse({"-t1", "-c50", "-d10s", "http://127.0.0.1:80/"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->Get("threads"), "1");
  EXPECT_EQ(f->Get("connections"), "50");
  EXPECT_EQ(f->Get("duration"), "10s");
  EXPECT_THAT(f->positional(), ::testing::ElementsAre("http://127.0.0.1:80/"));
  auto g = Parse({"-t", "1", "-c=50"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->Get("threads"), "1");
  EXPECT_EQ(g->Get("connections"), "50");
}

TEST(ParseFlagsTest, AcceptsLongFormsWithAndWithoutEquals) {
  auto f = Parse({"--threads=4", "--duration", "1m", "--latency"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->Get("threads"), "4");
  EXPECT_EQ(f->Get("duration"), "1m");
  EXPECT_TRUE(f->Has("latency"));
  EXPECT_EQ(f->Get("latency"), "true");
  EXPECT_FALSE(f->Has("connections"));
  EXPECT_EQ(f->Get("connections", "10"), "10");
}

TEST(ParseFlagsTest, ValueMayBeEmptyOrStartWithADash) {
  auto f = Parse({"--header=", "-H", "-x: y"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->All("header"), ::testing::ElementsAre("", "-x: y"));
}

TEST(ParseFlagsTest, UnknownFlagIsNamed) {
  for (const char* bad : {"--frobnicate", "--frobnicate=1", "-z"}) {
    auto f = Parse({bad});
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(f.status().message(), HasSubstr("unknown flag"));
    EXPECT_THAT(f.status().message(), HasSubstr(std::string(bad).substr(0, 2)));
  }
  EXPECT_THAT(Parse({"--frobnicate=1"}).status().message(), HasSubstr("--frobnicate "));
}

TEST(ParseFlagsTest, MissingValueNamesTheFlagAndWhatIsExpected) {
  auto f = Parse({"--listen"});
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("--listen needs a value: HOST:PORT"));
  EXPECT_THAT(Parse({"-d"}).status().message(), HasSubstr("-d needs a value"));
}

TEST(ParseFlagsTest, SwitchWithAValueIsAnError) {
  EXPECT_THAT(Parse({"--latency=yes"}).status().message(),
              HasSubstr("flag --latency takes no value"));
  EXPECT_THAT(Parse({"-hx"}).status().message(), HasSubstr("flag -h takes no value"));
}

TEST(ParseFlagsTest, RepeatableFlagsKeepEveryValueInOrder) {
  auto f = Parse({"-H", "A: 1", "--header", "B: 2", "-HC: 3"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->All("header"), ::testing::ElementsAre("A: 1", "B: 2", "C: 3"));
  EXPECT_EQ(f->Get("header"), "C: 3");
}

TEST(ParseFlagsTest, RepeatingAOneValueFlagIsAnError) {
  auto f = Parse({"-t1", "--threads", "2"});
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("--threads given more than once"));
  EXPECT_TRUE(Parse({"--latency", "--latency"}).ok());  // a switch twice is still on
}

TEST(ParseFlagsTest, DoubleDashEndsTheFlags) {
  auto f = Parse({"-t1", "run", "--", "--threads", "-x", "-"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->positional(), ::testing::ElementsAre("run"));
  EXPECT_THAT(f->rest(), ::testing::ElementsAre("--threads", "-x", "-"));
  auto g = Parse({"-"});
  ASSERT_TRUE(g.ok());
  EXPECT_THAT(g->positional(), ::testing::ElementsAre("-"));
}

TEST(ParseFlagsTest, ArgvOverloadSkipsTheProgramAndSubcommand) {
  const char* argv[] = {"prog", "http", "-c", "5"};
  auto f = ParseFlags(4, argv, 2, kTable);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->Get("connections"), "5");
  EXPECT_TRUE(f->positional().empty());
}

TEST(ParsedFlagsTest, TypedGettersCheckRangesAndNameTheFlag) {
  auto f = Parse({"-t0", "-d", "soon", "--listen", "127.0.0.1:99999", "-c", "7"});
  ASSERT_TRUE(f.ok()) << f.status();
  auto t = f->GetUint("threads", 1, 1, 1024);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("--threads \"0\": expected an integer in [1, 1024]"));
  EXPECT_EQ(*f->GetUint("connections", 10, 1, 100), 7u);
  EXPECT_EQ(*f->GetUint("absent", 10, 1, 100), 10u);
  auto d =
      f->GetDuration("duration", std::chrono::seconds(10), nanoseconds(1), std::chrono::hours(24));
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("--duration \"soon\": expected a duration"));
  auto hp = f->GetHostPort("listen");
  ASSERT_FALSE(hp.ok());
  EXPECT_THAT(hp.status().message(), HasSubstr("--listen \"127.0.0.1:99999\""));
}

}  // namespace
}  // namespace rcbench
