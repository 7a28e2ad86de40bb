#include "agent/cgroup_parse.h"

#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

TEST(ParseSingleValueTest, AcceptsANumberWithOrWithoutNewline) {
  EXPECT_EQ(ParseSingleValue("42\n"), 42u);
  EXPECT_EQ(ParseSingleValue("42"), 42u);
}

TEST(ParseSingleValueTest, RejectsMaxEmptyNegativeAndOverflow) {
  EXPECT_FALSE(ParseSingleValue("max\n"));
  EXPECT_FALSE(ParseSingleValue(""));
  EXPECT_FALSE(ParseSingleValue("-1\n"));
  EXPECT_FALSE(ParseSingleValue("18446744073709551616\n"));
  EXPECT_FALSE(ParseSingleValue("12 13\n"));
}

TEST(FindKeyedValueTest, MatchesWholeKeysAtLineStarts) {
  absl::string_view t = "total_inactive_file 9\ninactive_file 5\n";
  EXPECT_EQ(FindKeyedValue(t, "inactive_file"), 5u);
  EXPECT_EQ(FindKeyedValue(t, "total_inactive_file"), 9u);
  EXPECT_FALSE(FindKeyedValue(t, "inactive"));
}

TEST(FindKeyedValueTest, NonNumericValueIsNotFound) {
  EXPECT_FALSE(FindKeyedValue("user abc\n", "user"));
}

TEST(ForEachKeyedValueTest, MalformedLineFails) {
  int n = 0;
  EXPECT_FALSE(ForEachKeyedValue("a 1\nb\n", [&](absl::string_view, uint64_t) { ++n; }));
  EXPECT_TRUE(ForEachKeyedValue("a 1\nb 2\n", [&](absl::string_view, uint64_t) { ++n; }));
}

TEST(ParseIoStatTest, SumsDevices) {
  IoTotals t;
  ASSERT_TRUE(
      ParseIoStat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"
                  "8:16 rbytes=5 wbytes=5 rios=1 wios=1 dbytes=0 dios=0\n",
                  &t));
  EXPECT_EQ(t.read_bytes, 15u);
  EXPECT_EQ(t.write_bytes, 25u);
  EXPECT_EQ(t.read_ops, 2u);
  EXPECT_EQ(t.write_ops, 3u);
}

TEST(ParseIoStatTest, EmptyFileIsZero) {
  IoTotals t;
  EXPECT_TRUE(ParseIoStat("", &t));
  EXPECT_EQ(t.read_bytes, 0u);
}

TEST(ParseIoStatTest, GarbageFails) {
  IoTotals t;
  EXPECT_FALSE(ParseIoStat("8:0 rbytes=\n", &t));
  EXPECT_FALSE(ParseIoStat("hello world\n", &t));
}

TEST(ParseBlkioFileTest, AddsReadAndWriteSkippingTotals) {
  uint64_t r = 0, w = 0;
  ASSERT_TRUE(
      ParseBlkioFile("8:0 Read 3\n8:0 Write 4\n8:0 Sync 7\n8:0 Total 7\nTotal 7\n", &r, &w));
  EXPECT_EQ(r, 3u);
  EXPECT_EQ(w, 4u);
}

TEST(ParseBlkioFileTest, MissingValueFails) {
  uint64_t r = 0, w = 0;
  EXPECT_FALSE(ParseBlkioFile("8:0 Read\n", &r, &w));
}

TEST(ParsePressureTest, ReadsSomeAndFullTotals) {
  PressureTotals p;
  ASSERT_TRUE(
      ParsePressure("some avg10=1.00 avg60=0.50 avg300=0.10 total=123\n"
                    "full avg10=0.00 avg60=0.00 avg300=0.00 total=45\n",
                    &p));
  EXPECT_EQ(p.some_total_us, 123u);
  EXPECT_EQ(p.full_total_us, 45u);
}

TEST(ParsePressureTest, SomeOnlyIsFine) {
  PressureTotals p;
  EXPECT_TRUE(ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n", &p));
  EXPECT_EQ(p.some_total_us, 9u);
}

TEST(ParsePressureTest, TruncatedLineFails) {
  PressureTotals p;
  EXPECT_FALSE(ParsePressure("some avg10=0.00 avg60\n", &p));
  EXPECT_FALSE(ParsePressure("", &p));
}

}  // namespace
}  // namespace rcbench::agent
