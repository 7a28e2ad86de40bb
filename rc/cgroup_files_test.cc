#include "rc/cgroup_files.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rcbench::rc {
namespace {

using ::testing::HasSubstr;

TEST(RcCgroupFilesTest, ParsesSingleUnsignedInteger) {
  auto v = ParseUint("1234\n", "f");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 1234u);
}

TEST(RcCgroupFilesTest, EmptyFileIsAClearError) {
  auto v = ParseUint("", "/x/cpuacct.usage");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("/x/cpuacct.usage: empty"));
}

TEST(RcCgroupFilesTest, GarbageIntegerNamesFileAndContent) {
  auto v = ParseUint("12ab\n", "/x/pids.current");
  EXPECT_THAT(v.status().message(), HasSubstr("/x/pids.current"));
  EXPECT_THAT(v.status().message(), HasSubstr("'12ab\\n'"));
}

TEST(RcCgroupFilesTest, NegativeIsNotUnsigned) { EXPECT_FALSE(ParseUint("-1\n", "f").ok()); }

TEST(RcCgroupFilesTest, ParsesSignedInteger) {
  auto v = ParseInt("-1\n", "f");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, -1);
}

TEST(RcCgroupFilesTest, MaxMeansNoLimit) {
  auto v = ParseUintOrMax("max\n", "f");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  auto w = ParseUintOrMax("64\n", "f");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(**w, 64u);
}

TEST(RcCgroupFilesTest, ParsesFlatKeyedFile) {
  auto m = ParseFlatKeyed("usage_usec 10\nuser_usec 7\nsystem_usec 3\n", "cpu.stat");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("usage_usec"), 10u);
  EXPECT_EQ(m->at("system_usec"), 3u);
}

TEST(RcCgroupFilesTest, TruncatedFlatKeyedFileIsRejected) {
  auto m = ParseFlatKeyed("usage_usec 10\nuser_us", "/c/cpu.stat");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("/c/cpu.stat: truncated"));
}

TEST(RcCgroupFilesTest, MalformedFlatKeyedLineNamesTheLine) {
  auto m = ParseFlatKeyed("a 1\nb two\n", "/c/cpu.stat");
  EXPECT_THAT(m.status().message(), HasSubstr("line 2"));
}

TEST(RcCgroupFilesTest, MissingKeyIsNamed) {
  auto m = ParseFlatKeyed("a 1\n", "/c/cpu.stat");
  ASSERT_TRUE(m.ok());
  auto v = RequireKey(*m, "usage_usec", "/c/cpu.stat");
  EXPECT_THAT(v.status().message(), HasSubstr("missing key 'usage_usec'"));
}

TEST(RcCgroupFilesTest, ParsesCpuMaxWithAndWithoutQuota) {
  auto a = ParseCpuMax("max 100000\n", "f");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->quota_us.has_value());
  auto b = ParseCpuMax("20000 50000\n", "f");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b->quota_us, 20000u);
  EXPECT_EQ(b->period_us, 50000u);
}

TEST(RcCgroupFilesTest, CpuMaxWithoutPeriodIsRejected) {
  EXPECT_FALSE(ParseCpuMax("20000\n", "f").ok());
  EXPECT_FALSE(ParseCpuMax("20000 0\n", "f").ok());
}

TEST(RcCgroupFilesTest, ParsesPressureTotals) {
  auto p = ParsePressure(
      "some avg10=0.00 avg60=0.00 avg300=0.00 total=123\n"
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=45\n",
      "f");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->some_total_us, 123u);
  EXPECT_EQ(*p->full_total_us, 45u);
}

TEST(RcCgroupFilesTest, PressureWithoutTotalIsRejected) {
  auto p = ParsePressure("some avg10=0.00 avg60=0.00\n", "/c/cpu.pressure");
  EXPECT_THAT(p.status().message(), HasSubstr("/c/cpu.pressure: line 1"));
}

TEST(RcCgroupFilesTest, ParsesIdLists) {
  auto ids = ParseIdList("12\n13\n", "tasks");
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ::testing::ElementsAre(12, 13));
  EXPECT_TRUE(ParseIdList("", "tasks")->empty());
  EXPECT_FALSE(ParseIdList("12\nx\n", "tasks").ok());
}

// Formerly the agent's own parsers' cases (agent/cgroup_parse_test.cc): the agent now samples
// through rc's parsers.
TEST(RcCgroupFilesTest, ForEachFlatKeyedVisitsEveryLineAndRejectsAMalformedOne) {
  int n = 0;
  EXPECT_FALSE(ForEachFlatKeyed("a 1\nb\n", "f", [&](absl::string_view, uint64_t) { ++n; }).ok());
  n = 0;
  EXPECT_TRUE(ForEachFlatKeyed("a 1\nb 2\n", "f", [&](absl::string_view, uint64_t) { ++n; }).ok());
  EXPECT_EQ(n, 2);
}

TEST(RcCgroupFilesTest, FindFlatKeyedMatchesWholeKeysAndParsesOnlyTheirLine) {
  absl::string_view t = "total_inactive_file 9\ninactive_file 5\nodd line\n";
  EXPECT_EQ(**FindFlatKeyed(t, "inactive_file", "f"), 5u);
  EXPECT_EQ(**FindFlatKeyed(t, "total_inactive_file", "f"), 9u);
  EXPECT_FALSE(FindFlatKeyed(t, "inactive", "f")->has_value());
  EXPECT_FALSE(FindFlatKeyed("user abc\n", "user", "f").ok());
  EXPECT_FALSE(FindFlatKeyed("user 1", "user", "f").ok());  // truncated
}

TEST(RcCgroupFilesTest, FindFlatKeyedFastPathAgreesWithTheLineScan) {
  // The key inside another key, at the end of a line, and as a prefix: only a line starting
  // with "<key> " counts, and the first one wins.
  absl::string_view t = "x_cache 1\nfoo cache\ncache_x 2\n\ncache 3\ncache 4\n";
  EXPECT_EQ(**FindFlatKeyed(t, "cache", "f"), 3u);
  EXPECT_EQ(**FindFlatKeyed("cache 7\n", "cache", "f"), 7u);
  EXPECT_EQ(**FindFlatKeyed("a 1\ncache 18446744073709551615\n", "cache", "f"),
            18446744073709551615u);
  EXPECT_FALSE(FindFlatKeyed("cache\n", "cache", "f")->has_value());
  // A malformed value names its (non-empty) line, as the line scan does.
  auto bad = FindFlatKeyed("a 1\n\ncache 1 2\n", "cache", "memory.stat");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "memory.stat: line 2: expected '<key> <unsigned value>', got 'cache 1 2'");
}

TEST(RcCgroupFilesTest, UintFastPathAndFallbackAgree) {
  EXPECT_EQ(*ParseUint("0\n", "f"), 0u);
  EXPECT_EQ(*ParseUint("1234567890123456789\n", "f"), 1234567890123456789u);    // 19 digits
  EXPECT_EQ(*ParseUint("18446744073709551615\n", "f"), 18446744073709551615u);  // 20: fallback
  EXPECT_EQ(*ParseUint(" 42 \n", "f"), 42u);
  EXPECT_FALSE(ParseUint("42\n\n7\n", "f").ok());
  EXPECT_EQ(ParseFlatKeyed("user 18446744073709551615\n", "f")->at("user"), 18446744073709551615u);
}

TEST(RcCgroupFilesTest, FlatKeyedValuesMustBeUnsignedNumbers) {
  EXPECT_FALSE(ParseFlatKeyed("user abc\n", "f").ok());
  EXPECT_FALSE(ParseFlatKeyed("system -1\n", "f").ok());
  EXPECT_FALSE(ParseFlatKeyed("user 18446744073709551616\n", "f").ok());
}

TEST(RcCgroupFilesTest, UintRejectsMaxNegativeOverflowAndTwoNumbers) {
  EXPECT_FALSE(ParseUint("max\n", "f").ok());
  EXPECT_FALSE(ParseUint("-1\n", "f").ok());
  EXPECT_FALSE(ParseUint("18446744073709551616\n", "f").ok());
  EXPECT_FALSE(ParseUint("12 13\n", "f").ok());
  EXPECT_EQ(*ParseUint("42", "f"), 42u);
}

TEST(RcCgroupFilesTest, IoStatSumsDevices) {
  auto t = ParseIoStat(
      "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"
      "8:16 rbytes=5 wbytes=5 rios=1 wios=1 dbytes=0 dios=0\n",
      "io.stat");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->read_bytes, 15u);
  EXPECT_EQ(t->write_bytes, 25u);
  EXPECT_EQ(t->read_ops, 2u);
  EXPECT_EQ(t->write_ops, 3u);
}

TEST(RcCgroupFilesTest, EmptyIoStatIsZero) {
  auto t = ParseIoStat("", "io.stat");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->read_bytes, 0u);
}

TEST(RcCgroupFilesTest, GarbageIoStatNamesFileAndLine) {
  EXPECT_FALSE(ParseIoStat("8:0 rbytes=\n", "io.stat").ok());
  auto t = ParseIoStat("8:0 rbytes=1\nhello world\n", "/x/io.stat");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("/x/io.stat: line 2"));
}

TEST(RcCgroupFilesTest, BlkioAddsReadAndWriteSkippingTotals) {
  auto t = ParseBlkio("8:0 Read 3\n8:0 Write 4\n8:0 Sync 7\n8:0 Total 7\nTotal 7\n", "b");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->read, 3u);
  EXPECT_EQ(t->write, 4u);
}

TEST(RcCgroupFilesTest, BlkioLineWithoutValueIsMalformed) {
  EXPECT_FALSE(ParseBlkio("8:0 Read\n", "b").ok());
}

TEST(RcCgroupFilesTest, PressureWithSomeOnlyIsFineAndTruncatedLineIsNot) {
  auto p = ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n", "p");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->some_total_us, 9u);
  EXPECT_FALSE(p->full_total_us.has_value());
  EXPECT_FALSE(ParsePressure("some avg10=0.00 avg60\n", "p").ok());
  EXPECT_FALSE(ParsePressure("", "p").ok());
}

}  // namespace
}  // namespace rcbench::rc
