#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "controller/spec.h"
#include "controller/testing/spec_testing.h"

// Phases, load classes and the SYN flood (spec_load.cc), with the checks of their rendered values.

namespace rcbench::controller {
namespace {

using testing::ErrorsOf;
using ::testing::HasSubstr;
using testing::kValid;
using testing::Minimal;

TEST(SpecTest, LoadGeneratorModeNamesAreAliasesOfTheSpecs) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("mode: closed_loop"), 17, "mode: closed");
  auto spec = ParseSpec(yaml, "demo.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->load_classes[0].mode, "closed_loop");
  yaml.replace(yaml.find("mode: closed"), 12, "mode: opened");
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("mode \"opened\" is unknown; expected sclient, open_loop "
                                        "or closed_loop"));
}

TEST(SpecTest, BadDurationIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("phases: {warmup: 5 parsecs}\n")),
              HasSubstr("t.yaml:4:18: phases.warmup: invalid duration"));
}

TEST(SpecTest, ZeroMeasurementIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("phases: {measure: 0}\n")),
              HasSubstr("phases.measure is zero; expected a positive duration"));
}

TEST(SpecTest, LoadClassWithUnknownModeIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  classes:\n    - {name: a, mode: warp, target: "
                               "\"http://127.0.0.1:1\"}\n")),
              HasSubstr("t.yaml:6:23: mode \"warp\" is unknown"));
}

TEST(SpecTest, LoadClassMissingItsRequiredParameterIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  classes:\n    - {name: a, mode: sclient, target: "
                               "\"http://127.0.0.1:1\"}\n")),
              HasSubstr("load class \"a\" (sclient) lacks \"clients\""));
}

TEST(SpecTest, ParameterOfAnotherModeIsReported) {
  EXPECT_THAT(
      ErrorsOf(Minimal("load:\n  classes:\n    - {name: a, mode: closed_loop, connections: 1, "
                       "rate: 5, target: \"http://127.0.0.1:1\"}\n")),
      HasSubstr("\"rate\" does not apply to mode closed_loop"));
}

TEST(SpecTest, DuplicateLoadClassIsReported) {
  std::string yaml = Minimal(
      "load:\n  classes:\n    - {name: a, mode: closed_loop, connections: 1, target: x}\n"
      "    - {name: a, mode: closed_loop, connections: 1, target: x}\n");
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("t.yaml:7:14: duplicate load class \"a\""));
}

TEST(SpecTest, LoadClassWithoutTargetOrServerIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  classes:\n    - {name: a, mode: closed_loop, "
                               "connections: 1}\n")),
              HasSubstr("has no target and the experiment has no server"));
}

TEST(SpecTest, BadRenderedLoadParameterIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  classes:\n    - {name: a, mode: sclient, clients: "
                               "\"{{f}}\", target: x}\n")),
              HasSubstr("clients is \"a\"; expected an integer in [0, 100000] (in the run with "
                        "f=a)"));
}

TEST(SpecTest, UnknownLoadIoEngineIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  io: kqueue\n  classes:\n    - {name: a, mode: "
                               "closed_loop, connections: 1, target: x}\n")),
              HasSubstr("load.io: \"kqueue\" is not an I/O engine"));
}

TEST(SpecTest, BadPathWeightIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  classes:\n    - {name: a, mode: closed_loop, "
                               "connections: 1, target: x, paths: [\"/a zero\"]}\n")),
              HasSubstr("path weight \"zero\""));
}

TEST(SpecTest, SynFloodWithoutTargetIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  syn_flood: {spoof_cidr: 10.99.0.0/16}\n")),
              HasSubstr("load.syn_flood lacks \"target\""));
}

}  // namespace
}  // namespace rcbench::controller
