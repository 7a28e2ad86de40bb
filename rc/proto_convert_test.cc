#include "rc/proto_convert.h"

#include "gtest/gtest.h"

namespace rcbench::rc {
namespace {

TEST(RcProtoConvertTest, AttributesRoundTripKeepingUnsetFieldsUnset) {
  Attributes a;
  a.cpu_weight = 300;
  a.memory_limit_bytes = 0;
  rcbench::v1::ContainerAttributes p = ToProto(a);
  EXPECT_TRUE(p.has_cpu_weight());
  EXPECT_TRUE(p.has_memory_limit_bytes());
  EXPECT_FALSE(p.has_cpu_limit_cores());
  EXPECT_EQ(FromProto(p), a);
}

TEST(RcProtoConvertTest, UsageFillsCountersPressureAndAvailability) {
  Usage u;
  u.cpu_usage_ns = 7;
  u.memory_working_set_bytes = 9;
  u.cpu_pressure = Pressure{11, 4};
  u.available = {"cpu", "psi"};
  rcbench::v1::ContainerUsage p;
  FillUsage(u, &p);
  EXPECT_EQ(p.cpu_usage_ns(), 7u);
  EXPECT_EQ(p.memory_working_set_bytes(), 9u);
  EXPECT_EQ(p.cpu_pressure().some_total_us(), 11u);
  EXPECT_FALSE(p.has_memory_pressure());
  ASSERT_EQ(p.available_size(), 2);
  EXPECT_EQ(p.available(1), "psi");
}

TEST(RcProtoConvertTest, ModesMapOneToOne) {
  EXPECT_EQ(ToProto(CgroupMode::kHybrid), rcbench::v1::CGROUP_MODE_HYBRID);
  EXPECT_EQ(ToProto(CgroupMode::kV2), rcbench::v1::CGROUP_MODE_V2);
}

}  // namespace
}  // namespace rcbench::rc
