#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "controller/spec.h"
#include "controller/testing/spec_testing.h"

// Hosts, the server, the benchmark program, containers and sysctls (spec_testbed.cc), with the
// checks of their rendered values.

namespace rcbench::controller {
namespace {

using testing::ErrorsOf;
using ::testing::HasSubstr;
using testing::kBenchmark;
using testing::Minimal;

TEST(SpecTest, HostsWithOnlyAgentsAreReported) {
  EXPECT_THAT(ErrorsOf(Minimal("hosts:\n  agents: [{name: a, address: \"10.0.0.1:5\"}]\n")),
              HasSubstr("hosts lists only agents or only load generators"));
}

TEST(SpecTest, HostWithBadAddressIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("hosts:\n  agents: [{name: a, address: nowhere}]\n  loadgens: "
                               "[{name: l, address: \"10.0.0.2:5\"}]\n")),
              HasSubstr("address \"nowhere\" is invalid; expected HOST:PORT"));
}

TEST(SpecTest, DuplicateHostNameIsReported) {
  EXPECT_THAT(
      ErrorsOf(Minimal("hosts:\n  agents: [{name: a, address: \"1.2.3.4:5\"}, {name: a, address: "
                       "\"1.2.3.4:6\"}]\n  loadgens: [{name: l, address: \"10.0.0.2:5\"}]\n")),
      HasSubstr("duplicate host name \"a\""));
}

TEST(SpecTest, ReferenceToUnknownAgentIsReported) {
  std::string yaml = Minimal(
      "hosts:\n  agents: [{name: a, address: \"1.2.3.4:5\"}]\n  loadgens: [{name: l, address: "
      "\"1.2.3.5:5\"}]\nserver: {agent: b, listen: 1.2.3.4}\n");
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("t.yaml:7:17: agent \"b\" is not in hosts.agents"));
}

TEST(SpecTest, LoadgenNamedInLocalModeIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  classes:\n    - {name: a, loadgen: far, mode: "
                               "closed_loop, connections: 1, target: x}\n")),
              HasSubstr("load generator \"far\" is named but no hosts are listed"));
}

TEST(SpecTest, BadServerListenAddressIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("server: {listen: somewhere}\n")),
              HasSubstr("server.listen \"somewhere\" is not an IP address"));
}

TEST(SpecTest, BadRenderedServerClassIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("server:\n  classes: [\"{{f}}\", \"{{f}}\"]\n")),
              HasSubstr("server class \"a\" is invalid or repeated"));
}

TEST(SpecTest, ContainerPathEscapingTheRootIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("containers:\n  - path: ../etc\n")),
              HasSubstr("t.yaml:5:11: container path \"../etc\" is invalid"));
}

TEST(SpecTest, ContainerWithoutPathIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("containers:\n  - cpu_weight: 5\n")),
              HasSubstr("t.yaml:5:5: a container lacks \"path\""));
}

TEST(SpecTest, UnknownContainerAttributeIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("containers:\n  - {path: x, cpu_share: 5}\n")),
              HasSubstr("unknown key \"cpu_share\" in a container"));
}

TEST(SpecTest, BadCpuLimitIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("containers:\n  - {path: x, cpu_limit: lots}\n")),
              HasSubstr("t.yaml:5:26: cpu_limit: "));
}

TEST(SpecTest, BadSysctlNameIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("sysctls:\n  \"net..x\": 1\n")),
              HasSubstr("t.yaml:5:3: sysctl name \"net..x\" is invalid"));
}

TEST(SpecTest, BenchmarkBlockParsesBinaryArgsAndTimeout) {
  auto spec = ParseSpec(kBenchmark, "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->benchmark.has_value());
  EXPECT_EQ(spec->benchmark->binary, "rc_primitives");
  ASSERT_EQ(spec->benchmark->args.size(), 2u);
  EXPECT_EQ(spec->benchmark->args[0].text, "--benchmark_min_time={{min_time}}");
  EXPECT_EQ(spec->benchmark->timeout, std::chrono::seconds(90));
  EXPECT_FALSE(spec->server.has_value());
  EXPECT_TRUE(spec->local_mode());
  EXPECT_NEAR(spec->compare_rules.at("time_per_op_ns").min_effect, 0.20, 1e-9);
}

TEST(SpecTest, BenchmarkWithServerIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {binary: rc_primitives}\nserver: {args: []}\n"),
              HasSubstr("t.yaml:3:9: \"server\" cannot be combined with \"benchmark\""));
}

TEST(SpecTest, BenchmarkWithLoadIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {binary: b}\nload:\n  threads: 1\n"),
              HasSubstr("t.yaml:4:3: \"load\" cannot be combined with \"benchmark\""));
}

TEST(SpecTest, BenchmarkWithHostsIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {binary: b}\nhosts:\n"
                       "  agents: [{name: a, address: \"10.0.0.1:1\"}]\n"
                       "  loadgens: [{name: l, address: \"10.0.0.2:1\"}]\n"),
              HasSubstr("needs local mode; expected no \"hosts\""));
}

TEST(SpecTest, BenchmarkWithMeasurePhaseIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {binary: b}\nphases: {measure: 5s}\n"),
              HasSubstr("phases.measure does not apply to benchmark runs"));
}

TEST(SpecTest, BenchmarkArgSettingTheOutputFileIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {args: [\"--benchmark_out=/tmp/x\"]}\n"),
              HasSubstr("sets the output file, which the controller chooses"));
}

TEST(SpecTest, BenchmarkWithBadTimeoutIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {timeout: 0s}\n"),
              HasSubstr("benchmark.timeout is out of range"));
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {timeout: soon}\n"), HasSubstr("benchmark.timeout: "));
}

TEST(SpecTest, BenchmarkWithUnknownKeyIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {binary: b, repeat: 3}\n"),
              HasSubstr("unknown key \"repeat\" in benchmark"));
}

TEST(SpecTest, BenchmarkArgsCannotUseServerPlaceholders) {
  EXPECT_THAT(ErrorsOf("name: t\nbenchmark: {args: [\"{{server.http}}\"]}\n"),
              HasSubstr("unknown placeholder {{server.http}}"));
}

TEST(SpecContainerPathTest, ACgroupFilePrefixIsRefusedAtValidation) {
  EXPECT_THAT(ErrorsOf(Minimal("containers:\n  - path: exp/cpu.shares\n")),
              HasSubstr("t.yaml:5:11: container path \"exp/cpu.shares\" is invalid: "));
}

TEST(SpecContainerPathTest, EveryFactorLevelOfATemplatedPathIsChecked) {
  std::string yaml =
      "name: t\nfactors:\n  g: [ok, memory.max, fine]\ncontainers:\n  - path: \"exp/{{g}}\"\n";
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("t.yaml:5:11: container path \"exp/memory.max\" is "
                                        "invalid: "));
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("(in the run with g=memory.max)"));
}

TEST(SpecSysctlTest, AValueWithANewlineIsRefusedAtValidation) {
  EXPECT_THAT(ErrorsOf(Minimal("sysctls:\n  net.core.somaxconn: \"1\\n2\"\n")),
              HasSubstr("t.yaml:5:23: sysctl net.core.somaxconn value \"1\\n2\" (3 bytes) is not "
                        "one line of at most 4096 bytes"));
}

TEST(SpecSysctlTest, EveryFactorLevelOfATemplatedValueIsChecked) {
  std::string yaml =
      "name: t\nfactors:\n  v: [\"1\", \"2\\n3\"]\nsysctls:\n"
      "  net.core.somaxconn: \"{{v}}\"\n";
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("(in the run with v=2\n3)"));
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("t.yaml:5:23: sysctl net.core.somaxconn value \"2\\n3\""));
}

TEST(SpecSysctlTest, AValueOverFourKibIsRefused) {
  EXPECT_THAT(
      ErrorsOf(Minimal("sysctls:\n  net.core.somaxconn: \"" + std::string(4097, '1') + "\"\n")),
      HasSubstr("(4097 bytes) is not one line of at most 4096 bytes"));
}

TEST(SpecSysctlTest, ANameTheAgentWouldRefuseIsRefused) {
  EXPECT_THAT(ErrorsOf(Minimal("sysctls:\n  Net.Core.Somaxconn: 1\n")),
              HasSubstr("t.yaml:5:3: sysctl name \"Net.Core.Somaxconn\" is invalid"));
}

}  // namespace
}  // namespace rcbench::controller
