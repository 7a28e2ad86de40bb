#include "controller/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "controller/testing/spec_testing.h"

// The document as a whole: its shape, the top-level scalars, duplicate keys, placeholders,
// cross-checks over every run, limits on its size, and the repository's own specs.

namespace rcbench::controller {
namespace {

using testing::ErrorsOf;
using ::testing::HasSubstr;
using testing::kValid;
using testing::Minimal;

TEST(SpecTest, ValidSpecParsesEveryField) {
  auto spec = ParseSpec(kValid, "demo.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "demo");
  EXPECT_TRUE(spec->local_mode());
  ASSERT_EQ(spec->factors.size(), 3u);
  EXPECT_EQ(spec->factors[0].name, "containers");
  EXPECT_EQ(spec->factors[1].levels, (std::vector<std::string>{"1", "2", "4"}));
  EXPECT_EQ(spec->zip_groups.size(), 1u);
  EXPECT_EQ(spec->excludes.size(), 1u);
  EXPECT_EQ(spec->repetitions, 3);
  EXPECT_FALSE(spec->randomize);
  EXPECT_EQ(spec->seed, 11u);
  EXPECT_EQ(spec->phases.cooldown, std::chrono::milliseconds(500));
  ASSERT_EQ(spec->containers.size(), 1u);
  EXPECT_EQ(spec->containers[0].attributes.at("cpu_weight").text, "{{weight}}");
  EXPECT_EQ(spec->containers[0].attributes.at("cpu_weight").pos.line, 19);
  EXPECT_EQ(spec->sysctls.at("net.ipv4.tcp_syncookies").text, "1");
  ASSERT_EQ(spec->load_classes.size(), 2u);
  EXPECT_EQ(spec->load_classes[0].target.text, "{{server.http.high}}");
  EXPECT_EQ(spec->load_classes[1].target.text, "{{server.http}}");
  EXPECT_EQ(spec->stats_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(spec->plots.size(), 1u);
  EXPECT_NEAR(spec->compare_rules.at("throughput_rps").min_effect, 0.02, 1e-9);
  EXPECT_TRUE(spec->Records("samples"));
}

TEST(SpecTest, SmokeSpecOfTheRepositoryIsValid) {
  // RCBENCH_SOURCE_DIR, or the tree this file was compiled from.
  const char* env = std::getenv("RCBENCH_SOURCE_DIR");
  std::string src = env ? env : std::filesystem::path(__FILE__).parent_path().parent_path();
  auto spec = LoadSpecFile(src + "/experiments/smoke.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->local_mode());
}

TEST(SpecTest, PrimitiveCostsSpecsOfTheRepositoryAreValid) {
  const char* env = std::getenv("RCBENCH_SOURCE_DIR");
  std::string src = env ? env : std::filesystem::path(__FILE__).parent_path().parent_path();
  for (const char* file :
       {"/experiments/primitive-costs.yaml", "/experiments/ci/primitive-costs.yaml"}) {
    auto spec = LoadSpecFile(src + file);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_TRUE(spec->benchmark.has_value()) << file;
  }
}

TEST(SpecTest, YamlSyntaxErrorHasPosition) {
  EXPECT_THAT(ErrorsOf("name: [unclosed\n"), HasSubstr("t.yaml:2:1: YAML syntax error"));
}

TEST(SpecTest, EmptyDocumentIsRejected) {
  EXPECT_THAT(ErrorsOf(""), HasSubstr("t.yaml:1:1: the document is empty"));
}

TEST(SpecTest, TopLevelMustBeAMapping) {
  EXPECT_THAT(ErrorsOf("- a\n- b\n"), HasSubstr("t.yaml:1:1: the experiment is not a mapping"));
}

TEST(SpecTest, UnknownTopLevelKeyIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("colour: blue\n")),
              HasSubstr("t.yaml:4:1: unknown key \"colour\" in the experiment"));
}

TEST(SpecTest, MissingNameIsReported) {
  EXPECT_THAT(ErrorsOf("factors:\n  f: [a]\n"), HasSubstr("t.yaml:1:1: missing key \"name\""));
}

TEST(SpecTest, InvalidNameIsReported) {
  EXPECT_THAT(ErrorsOf("name: \"a b\"\n"), HasSubstr("t.yaml:1:7: name \"a b\" is invalid"));
}

TEST(SpecTest, NonScalarWhereScalarExpected) {
  EXPECT_THAT(ErrorsOf("name: [a]\n"), HasSubstr("t.yaml:1:7: name is not a scalar"));
}

TEST(SpecTest, BadRepetitionsAreReported) {
  EXPECT_THAT(ErrorsOf(Minimal("repetitions: 0\n")),
              HasSubstr("t.yaml:4:14: repetitions is \"0\"; expected an integer in [1, 1000]"));
}

TEST(SpecTest, BadOrderIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("order: shuffled\n")),
              HasSubstr("t.yaml:4:8: order is \"shuffled\"; expected random or sequential"));
}

TEST(SpecTest, BadSeedIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("seed: -3\n")), HasSubstr("t.yaml:4:7: seed is \"-3\""));
}

TEST(SpecTest, UnknownPlaceholderIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("server:\n  args: [\"{{g}}\"]\n")),
              HasSubstr("t.yaml:5:10: unknown placeholder {{g}}; expected one of f,"));
}

TEST(SpecTest, UnterminatedPlaceholderIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("server:\n  args: [\"{{f\"]\n")),
              HasSubstr("t.yaml:5:10: server.args: unterminated placeholder"));
}

TEST(SpecTest, RenderedContainerAttributeOutOfRangeNamesTheRun) {
  std::string yaml =
      "name: t\nfactors:\n  w: [100, 20000]\ncontainers:\n  - path: x\n    cpu_weight: "
      "\"{{w}}\"\n";
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("t.yaml:6:17: cpu_weight is \"20000\"; expected an "
                                        "integer in [1, 10000] (in the run with w=20000)"));
}

TEST(SpecTest, EveryProblemIsReportedInFileOrder) {
  std::string errors = ErrorsOf("name: \"a b\"\nrepetitions: 0\norder: x\n");
  size_t a = errors.find("t.yaml:1:");
  size_t b = errors.find("t.yaml:2:");
  size_t c = errors.find("t.yaml:3:");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST(SpecTest, BenchmarkTimePerOpIsLowerIsBetterByDefault) {
  MetricRule rule = DefaultRuleFor("time_per_op_ns");
  EXPECT_EQ(rule.direction, Direction::kLowerIsBetter);
  EXPECT_EQ(DefaultRuleFor("cpu_time_per_op_ns").direction, Direction::kLowerIsBetter);
}

TEST(SpecLimitsTest, ASpecLargerThanTheByteLimitIsRefusedUnparsed) {
  SpecLimits limits;
  limits.max_spec_bytes = 16;
  auto spec = ParseSpec("name: t\ndescription: longer than sixteen bytes\n", "t.yaml", limits);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(),
              HasSubstr("t.yaml:1:1: the spec is larger than the limit of 16 bytes"));
}

TEST(SpecDuplicateKeyTest, ADuplicatedTopLevelKeyIsReportedWithBothPositions) {
  EXPECT_THAT(ErrorsOf("name: t\nrepetitions: 2\nrepetitions: 3\n"),
              HasSubstr("t.yaml:3:1: duplicate key \"repetitions\" (first at 2:1); expected each "
                        "key once in a mapping"));
}

TEST(SpecDuplicateKeyTest, DuplicatedKeysInNestedMappingsAreReported) {
  std::string errors = ErrorsOf(
      Minimal("phases: {measure: 1s, measure: 2s}\nload:\n  classes:\n    - name: a\n      mode: "
              "closed_loop\n      connections: 1\n      connections: 2\n"));
  EXPECT_THAT(errors, HasSubstr("t.yaml:4:23: duplicate key \"measure\" (first at 4:10)"));
  EXPECT_THAT(errors, HasSubstr("t.yaml:10:7: duplicate key \"connections\" (first at 9:7)"));
}

TEST(SpecDuplicateKeyTest, ADuplicatedFactorIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  f: [a]\n  f: [b]\n"),
              HasSubstr("t.yaml:4:3: duplicate key \"f\" (first at 3:3)"));
}

TEST(SpecDuplicateKeyTest, AliasesAreCheckedOnceNotOncePerReference) {
  // Nine levels of ten references each: 10^9 paths to the innermost mapping if every alias
  // were walked again. This must finish at once (and then fail for its unknown key).
  std::string yaml = "name: t\nl0: &l0 {a: 1}\n";
  for (int i = 1; i < 10; ++i) {
    yaml += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", *l" : "*l") + std::to_string(i - 1);
    yaml += "]\n";
  }
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("unknown key \"l0\""));
}

}  // namespace
}  // namespace rcbench::controller
