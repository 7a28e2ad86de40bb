#include "controller/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "controller/spec_render.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = R"(name: demo
description: a demo
server:
  args: ["--containers", "{{containers}}"]
  classes: [high]
factors:
  containers: ["off", "on"]
  clients: [1, 2, 4]
  weight: [100, 200, 400]
zip: [[clients, weight]]
exclude:
  - {containers: "off", clients: 4}
repetitions: 3
order: sequential
seed: 11
phases: {setup: 1s, warmup: 2s, measure: 5s, cooldown: 500ms}
containers:
  - path: "demo/low"
    cpu_weight: "{{weight}}"
    cpu_limit: 30%
    memory_limit: 64MiB
sysctls:
  net.ipv4.tcp_syncookies: "1"
load:
  threads: 2
  stats_interval: 250ms
  classes:
    - name: high
      mode: closed_loop
      connections: 1
    - name: low
      mode: sclient
      clients: "{{clients}}"
      sockets_per_client: 4
      connect_timeout: 500ms
      paths: ["/a 3", "/b"]
plots:
  - {name: lat, x: clients, y: latency_p50_us, series: containers, class: high}
compare:
  throughput_rps: {direction: higher, min_effect: 2%}
)";

std::string ErrorsOf(const std::string& yaml) {
  auto spec = ParseSpec(yaml, "t.yaml");
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

std::string Minimal(const std::string& extra) { return "name: t\nfactors:\n  f: [a, b]\n" + extra; }

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

TEST(SpecTest, YamlSyntaxErrorHasPosition) {
  EXPECT_THAT(ErrorsOf("name: [unclosed\n"), HasSubstr("t.yaml:2:1: YAML syntax error"));
}

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

TEST(SpecTest, FactorWithoutLevelsIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  f: []\n"),
              HasSubstr("t.yaml:3:6: factor \"f\" has no levels"));
}

TEST(SpecTest, RepeatedLevelIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  f: [a, a]\n"),
              HasSubstr("t.yaml:3:10: level \"a\" of factor \"f\" is repeated"));
}

TEST(SpecTest, ZippedFactorsMayRepeatLevelsAcrossRows) {
  auto spec = ParseSpec(
      "name: t\nfactors:\n  variant: [x, y, z]\n  containers: [\"off\", \"on\", \"on\"]\n"
      "zip: [[variant, containers]]\n",
      "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->FindFactor("containers")->levels.size(), 3u);
}

TEST(SpecTest, IdenticalZipRowsAreReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  a: [x, x]\n  b: [1, 1]\nzip: [[a, b]]\n"),
              HasSubstr("t.yaml:5:7: zip group rows 1 and 2 are identical (x, 1)"));
}

TEST(SpecTest, ReservedFactorNameIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  server: [a]\n"), HasSubstr("is reserved"));
}

TEST(SpecTest, ZipWithUnknownFactorIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("zip: [[f, g]]\n")),
              HasSubstr("t.yaml:4:7: zip names unknown factor \"g\""));
}

TEST(SpecTest, ZipWithDifferentLevelCountsIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nfactors:\n  f: [a, b]\n  g: [1, 2, 3]\nzip: [[f, g]]\n"),
              HasSubstr("t.yaml:5:7: zip group factors have different numbers of levels"));
}

TEST(SpecTest, ZipWithOneFactorIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("zip: [[f]]\n")), HasSubstr("fewer than two factors"));
}

TEST(SpecTest, ExcludeOfUnknownLevelIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("exclude:\n  - {f: c}\n")),
              HasSubstr("t.yaml:5:9: exclude names unknown level \"c\" of factor \"f\"; "
                        "expected one of a, b"));
}

TEST(SpecTest, ExcludeOfUnknownFactorIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("exclude:\n  - {g: a}\n")),
              HasSubstr("t.yaml:5:6: exclude names unknown factor \"g\""));
}

TEST(SpecTest, ExcludingEveryRunIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("exclude:\n  - {f: a}\n  - {f: b}\n")),
              HasSubstr("the exclude rules remove every run"));
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

TEST(SpecTest, BadDurationIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("phases: {warmup: 5 parsecs}\n")),
              HasSubstr("t.yaml:4:18: phases.warmup: invalid duration"));
}

TEST(SpecTest, ZeroMeasurementIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("phases: {measure: 0}\n")),
              HasSubstr("phases.measure is zero; expected a positive duration"));
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

// A factor switches per-class listeners on and off: an entry rendering to "" is left out, and
// a class without an explicit target follows the run's listeners.
TEST(SpecTest, TemplatedServerClassesFollowTheRun) {
  auto spec = ParseSpec(
      "name: t\nfactors:\n  l: [\"\", hi]\nserver:\n  classes: [\"{{l}}\"]\n"
      "load:\n  classes:\n    - {name: hi, mode: closed_loop, connections: 1}\n",
      "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->load_classes[0].auto_target);
  TemplateVars off = {{"l", ""}, {"server.http", "http://127.0.0.1:1"}};
  EXPECT_TRUE(RenderServerClasses(*spec, off)->empty());
  auto w = RenderWorkloads(*spec, off, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.http_classes(0).target(), "http://127.0.0.1:1");
  TemplateVars on = {
      {"l", "hi"}, {"server.http", "http://127.0.0.1:1"}, {"server.http.hi", "http://127.0.0.1:2"}};
  EXPECT_THAT(*RenderServerClasses(*spec, on), ::testing::ElementsAre("hi"));
  w = RenderWorkloads(*spec, on, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.http_classes(0).target(), "http://127.0.0.1:2");
}

// The load generators' socket engine can be a factor (an experiment comparing engines).
TEST(SpecTest, LoadIoEngineAndBatchingRenderPerRun) {
  auto spec = ParseSpec(
      "name: t\nfactors:\n  io: [epoll, io_uring]\n"
      "load:\n  io: \"{{io}}\"\n  io_batch: 16\n  io_batch_wait: 100us\n"
      "  classes:\n    - {name: a, mode: closed_loop, connections: 4, target: "
      "\"http://127.0.0.1:1\"}\n",
      "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto w = RenderWorkloads(*spec, {{"io", "io_uring"}}, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.io_engine(), rcbench::v1::IO_ENGINE_IO_URING);
  EXPECT_EQ(w->begin()->second.io_batch(), 16u);
  EXPECT_EQ(w->begin()->second.io_batch_wait().nanos(), 100'000);
  w = RenderWorkloads(*spec, {{"io", "epoll"}}, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.io_engine(), rcbench::v1::IO_ENGINE_EPOLL);
}

TEST(SpecTest, UnknownLoadIoEngineIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("load:\n  io: kqueue\n  classes:\n    - {name: a, mode: "
                               "closed_loop, connections: 1, target: x}\n")),
              HasSubstr("load.io: \"kqueue\" is not an I/O engine"));
}

TEST(SpecTest, BadRenderedServerClassIsReported) {
  EXPECT_THAT(ErrorsOf(Minimal("server:\n  classes: [\"{{f}}\", \"{{f}}\"]\n")),
              HasSubstr("server class \"a\" is invalid or repeated"));
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

constexpr char kBenchmark[] = R"(name: prim
benchmark:
  binary: rc_primitives
  args: ["--benchmark_min_time={{min_time}}", "{{filter}}"]
  timeout: 90s
factors:
  min_time: ["0.01", "0.1"]
  filter: ["", "--benchmark_filter=BM_Create"]
repetitions: 3
phases: {setup: 1s}
compare:
  time_per_op_ns: {direction: lower, min_effect: 20%}
)";

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

TEST(SpecTest, BenchmarkTimePerOpIsLowerIsBetterByDefault) {
  MetricRule rule = DefaultRuleFor("time_per_op_ns");
  EXPECT_EQ(rule.direction, Direction::kLowerIsBetter);
  EXPECT_EQ(DefaultRuleFor("cpu_time_per_op_ns").direction, Direction::kLowerIsBetter);
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

TEST(SpecTest, BenchmarkArgsRenderFactorLevelsAndDropEmptyOnes) {
  auto spec = ParseSpec(kBenchmark, "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto args = RenderBenchmarkArgs(*spec, {{"min_time", "0.01"}, {"filter", ""}});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(*args, ::testing::ElementsAre("--benchmark_min_time=0.01"));
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

// Issue #14: hostile specs are refused with positions, before they cost memory or time.

std::string TenMillionRuns() {
  std::string yaml = "name: big\nfactors:\n";
  for (char f = 'a'; f < 'a' + 7; ++f) {
    yaml += std::string("  ") + f + ": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  }
  return yaml;
}

TEST(SpecLimitsTest, AMatrixOverTheRunLimitIsRefusedNamingTheFactorsAndTheCount) {
  EXPECT_THAT(ErrorsOf(TenMillionRuns()),
              HasSubstr("t.yaml:3:3: the factor matrix plans 10000000 runs (a=10 x b=10 x c=10 x "
                        "d=10 x e=10 x f=10 x g=10 x 1 repetitions), more than the limit of "
                        "100000 (--max-planned-runs)"));
}

TEST(SpecLimitsTest, RepetitionsCountTowardsTheRunLimit) {
  SpecLimits limits;
  limits.max_planned_runs = 5;
  auto spec = ParseSpec(Minimal("repetitions: 3\n"), "t.yaml", limits);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("plans 6 runs (f=2 x 3 repetitions)"));
}

TEST(SpecLimitsTest, TheRunLimitIsConfigurable) {
  SpecLimits limits;
  limits.max_planned_runs = 10'000'000;
  std::string yaml =
      "name: big\nfactors:\n  a: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
      "  b: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  EXPECT_TRUE(ParseSpec(yaml, "t.yaml", limits).ok());
  limits.max_planned_runs = 99;
  EXPECT_FALSE(ParseSpec(yaml, "t.yaml", limits).ok());
}

TEST(SpecLimitsTest, AnOverflowingMatrixIsRefusedWithoutWrappingAround) {
  // 16 factors of 16 levels: 2^64 runs, which wraps to 0 in unchecked 64-bit arithmetic.
  std::string yaml = "name: big\nfactors:\n";
  for (int f = 0; f < 16; ++f) {
    yaml += "  f" + std::to_string(f) + ": [";
    for (int l = 0; l < 16; ++l) yaml += (l ? ", " : "") + std::to_string(l);
    yaml += "]\n";
  }
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("plans more than 2^64 runs"));
}

TEST(SpecLimitsTest, ASpecLargerThanTheByteLimitIsRefusedUnparsed) {
  SpecLimits limits;
  limits.max_spec_bytes = 16;
  auto spec = ParseSpec("name: t\ndescription: longer than sixteen bytes\n", "t.yaml", limits);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(),
              HasSubstr("t.yaml:1:1: the spec is larger than the limit of 16 bytes"));
}

TEST(SpecLimitsTest, TooManyExcludeEntriesAreRefused) {
  SpecLimits limits;
  limits.max_exclude_rules = 1;
  auto spec = ParseSpec(Minimal("exclude:\n  - {f: a}\n  - {f: b}\n"), "t.yaml", limits);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(),
              HasSubstr("t.yaml:5:3: exclude has 2 entries, more than the limit of 1"));
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

TEST(SpecLimitsTest, AFactorWithoutLevelsDoesNotExpandTheOthers) {
  // Found by the fuzzer: the matrix has 0 runs, within the limit, but expanding the ten
  // million combinations of the factors before the empty one took gigabytes.
  std::string errors = ErrorsOf(TenMillionRuns() + "  z: []\n");
  EXPECT_THAT(errors, HasSubstr("t.yaml:10:6: factor \"z\" has no levels"));
}

}  // namespace
}  // namespace rcbench::controller
