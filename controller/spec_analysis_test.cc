#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/spec.h"
#include "controller/testing/spec_testing.h"

// What a run records, plots and compare rules (spec_analysis.cc).

namespace rcbench::controller {
namespace {

using testing::ErrorsOf;
using ::testing::HasSubstr;
using testing::Minimal;

TEST(SpecTest, UnknownRecordItemIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("record: [everything]\n")),
              HasSubstr("t.yaml:4:10: record item \"everything\" is unknown"));
}

TEST(SpecTest, PlotOfUnknownFactorIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("plots:\n  - {name: p, x: g, y: cpu_cores, container: c}\n")),
              HasSubstr("t.yaml:5:18: plot x \"g\" is not a factor"));
}

TEST(SpecTest, PlotOfUnknownMetricIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("plots:\n  - {name: p, x: f, y: speed}\n")),
              HasSubstr("plot y \"speed\" is not a metric"));
}

TEST(SpecTest, PlotOfClassMetricWithoutClassIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("plots:\n  - {name: p, x: f, y: throughput_rps}\n")),
              HasSubstr("lacks \"class\""));
}

TEST(SpecTest, PlotOfUnknownClassIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("plots:\n  - {name: p, x: f, y: throughput_rps, class: z}\n")),
              HasSubstr("plot class \"z\" is not a load class"));
}

TEST(SpecTest, CompareOfUnknownMetricIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("compare:\n  speed: {direction: higher}\n")),
              HasSubstr("t.yaml:5:3: compare names unknown metric \"speed\""));
}

TEST(SpecTest, CompareWithBadDirectionIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("compare:\n  cpu_cores: {direction: up}\n")),
              HasSubstr("direction \"up\" is unknown; expected higher or lower"));
}

TEST(SpecTest, CompareWithBadMinEffectIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("compare:\n  cpu_cores: {min_effect: big}\n")),
              HasSubstr("min_effect: "));
}

}  // namespace
}  // namespace rcbench::controller
