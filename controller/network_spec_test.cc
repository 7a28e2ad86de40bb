// The spec's `network` option and the SYN-flood rules that depend on it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/runner.h"
#include "controller/spec.h"
#include "controller/spec_render.h"
#include "controller/testbed.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

constexpr char kFlood[] = R"(name: flood
network: namespaces
server:
  args: ["--containers", "off"]
factors:
  syn_rate: [0, 50000, max]
load:
  classes:
    - {name: good, mode: closed_loop, connections: 2}
  syn_flood:
    spoof_cidr: "{{prefix}}"
    rate_pps: "{{syn_rate}}"
)";

// kFlood with the prefix factor set to `prefix` (and extra top-level lines).
std::string Flood(const std::string& prefix, const std::string& extra = "") {
  std::string yaml = kFlood;
  yaml.replace(yaml.find("factors:\n"), 9, "factors:\n  prefix: [\"" + prefix + "\"]\n");
  return yaml + extra;
}

std::string ErrorsOf(const std::string& yaml) {
  auto spec = ParseSpec(yaml, "t.yaml");
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

TEST(NetworkSpecTest, NetworkDefaultsToLoopback) {
  auto spec = ParseSpec("name: t\n", "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->network, LocalNetwork::kLoopback);
}

TEST(NetworkSpecTest, NamespacesIsParsed) {
  auto spec = ParseSpec(Flood("10.99.0.0/16"), "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->network, LocalNetwork::kNamespaces);
}

TEST(NetworkSpecTest, UnknownNetworkIsReportedWithItsPosition) {
  EXPECT_THAT(ErrorsOf("name: t\nnetwork: bridge\n"),
              HasSubstr("t.yaml:2:10: network is \"bridge\"; expected loopback or namespaces"));
}

TEST(NetworkSpecTest, NamespacesWithHostsIsReported) {
  EXPECT_THAT(ErrorsOf("name: t\nnetwork: namespaces\nhosts:\n  agents: [{name: a, address: "
                       "\"10.0.0.1:5\"}]\n  loadgens: [{name: b, address: \"10.0.0.2:5\"}]\n"),
              HasSubstr("t.yaml:2:10: network: namespaces is for local mode"));
}

TEST(NetworkSpecTest, SynFloodOnLoopbackIsReported) {
  std::string yaml = Flood("10.99.0.0/16");
  yaml.replace(yaml.find("network: namespaces\n"), 20, "");
  EXPECT_THAT(ErrorsOf(yaml), HasSubstr("load.syn_flood in local mode needs \"network: "
                                        "namespaces\""));
}

TEST(NetworkSpecTest, SpoofPrefixInsideTheTestbedSubnetIsReportedPerRun) {
  EXPECT_THAT(ErrorsOf(Flood("10.213.0.0/16")),
              HasSubstr("spoof_cidr \"10.213.0.0/16\" overlaps 10.213.0.0/24"));
}

TEST(NetworkSpecTest, SpoofPrefixOnLoopbackIsReported) {
  EXPECT_THAT(ErrorsOf(Flood("127.99.0.0/16")), HasSubstr("overlaps 127.0.0.0/8"));
}

TEST(NetworkSpecTest, Ipv6SpoofPrefixIsReported) {
  EXPECT_THAT(ErrorsOf(Flood("fd00::/64")), HasSubstr("expected an IPv4 prefix"));
}

TEST(NetworkSpecTest, MalformedSpoofPrefixIsReportedWithTheRun) {
  EXPECT_THAT(ErrorsOf(Flood("10.99.0.0/33")),
              HasSubstr("(in the run with prefix=10.99.0.0/33, syn_rate=0)"));
}

TEST(NetworkSpecTest, SynFloodTargetDefaultsToTheServersEndpoint) {
  auto spec = ParseSpec(Flood("10.99.0.0/16"), "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->syn_flood->target.text, "{{server.endpoint}}");
}

TEST(NetworkSpecTest, ServerAddressPlaceholderIsTheNamespaceAddress) {
  auto spec = ParseSpec(Flood("10.99.0.0/16"), "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(PlaceholderRuntimeVars(*spec).at("server.address"), "10.213.0.1");
}

TEST(NetworkSpecTest, ReadyFileGivesTheEndpointPlaceholders) {
  TemplateVars vars = ServerVarsFromReady({{"http", "10.213.0.1:4242"}, {"http.low", "1.2.3.4:5"}});
  EXPECT_EQ(vars.at("server.endpoint"), "10.213.0.1:4242");
  EXPECT_EQ(vars.at("server.endpoint.low"), "1.2.3.4:5");
  EXPECT_EQ(vars.at("server.address"), "10.213.0.1");
}

class SynRateTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::map<std::string, rcbench::v1::Workload>> Render(const std::string& rate) {
    spec_ = *ParseSpec(Flood("10.99.0.0/16"), "t.yaml");
    TemplateVars vars = PlaceholderRuntimeVars(spec_);
    vars["prefix"] = "10.99.0.0/16";
    vars["syn_rate"] = rate;
    return RenderWorkloads(spec_, vars, std::chrono::seconds(5));
  }
  ExperimentSpec spec_;
};

TEST_F(SynRateTest, ZeroRateMeansNoFloodInThatRun) {
  auto w = Render("0");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(w->at(kLocalHost).has_syn_flood());
  EXPECT_EQ(w->at(kLocalHost).http_classes_size(), 1);
}

TEST_F(SynRateTest, PositiveRateFloodsTheServerEndpoint) {
  auto w = Render("50000");
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(w->at(kLocalHost).has_syn_flood());
  EXPECT_EQ(w->at(kLocalHost).syn_flood().rate_pps(), 50000);
  EXPECT_EQ(w->at(kLocalHost).syn_flood().target(), "10.213.0.1:8080");
  EXPECT_EQ(w->at(kLocalHost).syn_flood().spoof_cidr(), "10.99.0.0/16");
}

TEST_F(SynRateTest, MaxRateFloodsAsFastAsPossible) {
  auto w = Render("max");
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(w->at(kLocalHost).has_syn_flood());
  EXPECT_EQ(w->at(kLocalHost).syn_flood().rate_pps(), 0);
}

TEST(NetworkSpecTest, AllSpoofPrefixesListsEachDistinctPrefixOnce) {
  std::string yaml = Flood("10.99.0.0/16");
  yaml.replace(yaml.find("[\"10.99.0.0/16\"]"), 16, "[10.99.0.0/16, 10.98.0.0/16]");
  auto spec = ParseSpec(yaml, "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(AllSpoofPrefixes(*spec), (std::vector<std::string>{"10.99.0.0/16", "10.98.0.0/16"}));
}

TEST(FloodResultsTest, FloodClassThroughputIsSynPacketsPerSecond) {
  rcbench::v1::StatsReport r;
  auto* c = r.add_classes();
  c->set_class_name("syn-flood");
  c->mutable_interval_start()->mutable_wall()->set_seconds(10);
  c->mutable_interval_end()->mutable_wall()->set_seconds(12);
  c->mutable_interval_start()->set_monotonic_ns(10'000'000'000);
  c->mutable_interval_end()->set_monotonic_ns(12'000'000'000);
  c->set_syn_packets_sent(100'000);
  auto results = ComputeClassResults({r}, {}, 10'000, 12'000);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(results[0].throughput_rps(), 50'000);
}

TEST(NetworkSpecTest, NamespacesRefuseAHostWideSysctlAtValidate) {
  std::string errors =
      ErrorsOf(Flood("10.99.0.0/16", "sysctls:\n  kernel.printk_ratelimit_burst: \"50\"\n"));
  EXPECT_THAT(errors, HasSubstr("sysctl \"kernel.printk_ratelimit_burst\" is not one that "
                                "network: namespaces may set"));
  EXPECT_THAT(errors, HasSubstr("net.ipv4.tcp_syncookies"));  // the list is shown
  EXPECT_THAT(ErrorsOf(Flood("10.99.0.0/16", "sysctls:\n  net.core.netdev_max_backlog: 5\n")),
              HasSubstr("net.core.netdev_max_backlog"));
}

TEST(NetworkSpecTest, NamespacesAcceptAPerNamespaceSysctl) {
  EXPECT_EQ(ErrorsOf(Flood("10.99.0.0/16", "sysctls:\n  net.ipv4.tcp_syncookies: 0\n")), "");
}

}  // namespace
}  // namespace rcbench::controller
