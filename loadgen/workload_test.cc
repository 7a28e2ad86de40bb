#include "loadgen/workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace rcbench::loadgen {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMax = int64_t{600} * 1'000'000'000;

rcbench::v1::Workload Valid() {
  rcbench::v1::Workload w;
  w.mutable_duration()->set_seconds(5);
  auto* c = w.add_http_classes();
  c->set_name("high");
  c->set_target("http://127.0.0.1:8080");
  c->mutable_closed_loop()->set_connections(10);
  return w;
}

void ExpectInvalid(const rcbench::v1::Workload& w, const std::string& words) {
  auto spec = ValidateWorkload(w, AllowList(), kMax);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr(words));
}

TEST(WorkloadTest, ValidWorkloadBecomesARunSpec) {
  auto spec = ValidateWorkload(Valid(), AllowList(), kMax);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->classes.size(), 1u);
  EXPECT_EQ(spec->classes[0].target_port, 8080);
  EXPECT_EQ(spec->classes[0].paths[0].first, "/");
  EXPECT_EQ(spec->duration_ns, 5'000'000'000);
  EXPECT_GE(spec->threads, 1u);
}

TEST(WorkloadTest, TargetOutsideTheAllowListIsPermissionDenied) {
  auto w = Valid();
  w.mutable_http_classes(0)->set_target("http://192.0.2.1:80");
  auto spec = ValidateWorkload(w, AllowList(), kMax);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(spec.status().message(), HasSubstr("http_classes[0].target"));
}

TEST(WorkloadTest, FloodTargetOutsideTheAllowListIsPermissionDenied) {
  rcbench::v1::Workload w;
  w.mutable_duration()->set_seconds(1);
  w.mutable_syn_flood()->set_target("[2001:db8::1]:80");
  w.mutable_syn_flood()->set_spoof_cidr("2001:db8:1::/64");
  auto spec = ValidateWorkload(w, AllowList(), kMax);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(WorkloadTest, MissingDurationIsRefused) {
  auto w = Valid();
  w.clear_duration();
  ExpectInvalid(w, "duration");
}

TEST(WorkloadTest, DurationAboveTheMaximumIsRefused) {
  auto w = Valid();
  w.mutable_duration()->set_seconds(601);
  ExpectInvalid(w, "exceeds the generator's maximum");
}

TEST(WorkloadTest, BadClassNameIsRefused) {
  auto w = Valid();
  w.mutable_http_classes(0)->set_name("no spaces");
  ExpectInvalid(w, "http_classes[0].name");
}

TEST(WorkloadTest, RepeatedClassNameIsRefused) {
  auto w = Valid();
  *w.add_http_classes() = w.http_classes(0);
  ExpectInvalid(w, "http_classes[1].name");
}

TEST(WorkloadTest, HostNameTargetIsRefused) {
  auto w = Valid();
  w.mutable_http_classes(0)->set_target("http://localhost:80");
  ExpectInvalid(w, "literal");
}

TEST(WorkloadTest, ZeroWeightIsRefused) {
  auto w = Valid();
  auto* p = w.mutable_http_classes(0)->add_paths();
  p->set_path("/x");
  ExpectInvalid(w, "http_classes[0].paths[0].weight");
}

TEST(WorkloadTest, ClassWithoutModeIsRefused) {
  auto w = Valid();
  w.mutable_http_classes(0)->clear_closed_loop();
  ExpectInvalid(w, "needs a mode");
}

TEST(WorkloadTest, SourceOfTheWrongFamilyIsRefused) {
  auto w = Valid();
  w.mutable_http_classes(0)->add_source_addresses("::1");
  ExpectInvalid(w, "source_addresses[0]");
}

TEST(WorkloadTest, MalformedHeaderIsRefused) {
  auto w = Valid();
  w.mutable_http_classes(0)->add_headers("no colon");
  ExpectInvalid(w, "headers[0]");
}

TEST(WorkloadTest, OpenLoopNeedsAPositiveRate) {
  auto w = Valid();
  w.mutable_http_classes(0)->mutable_open_loop()->set_rate_rps(0);
  ExpectInvalid(w, "rate_rps");
}

TEST(WorkloadTest, MoreThan64ClassThreadsAreRefused) {
  auto w = Valid();
  w.mutable_http_classes(0)->set_threads(65);
  ExpectInvalid(w, "http_classes[0].threads");
}

TEST(WorkloadTest, SClientClassWithNoClientsIsAnIdleClass) {
  auto w = Valid();
  auto* c = w.mutable_http_classes(0);
  c->mutable_sclient()->set_clients(0);
  c->mutable_sclient()->set_sockets_per_client(4);
  c->set_threads(2);
  auto spec = ValidateWorkload(w, AllowList(), kMax);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->classes[0].TotalSockets(), 0u);
  EXPECT_EQ(spec->classes[0].threads, 2u);
}

TEST(WorkloadTest, IoEngineDefaultsToEpollWithoutBatching) {
  auto spec = ValidateWorkload(Valid(), AllowList(), kMax);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->io_engine, IoEngine::kEpoll);
  EXPECT_EQ(spec->io_batch, 1u);
}

TEST(WorkloadTest, IoUringWithBatchingBecomesARunSpec) {
  auto w = Valid();
  w.set_io_engine(rcbench::v1::IO_ENGINE_IO_URING);
  w.set_io_batch(16);
  w.mutable_io_batch_wait()->set_nanos(100'000);
  auto spec = ValidateWorkload(w, AllowList(), kMax);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->io_engine, IoEngine::kIoUring);
  EXPECT_EQ(spec->io_batch, 16u);
  EXPECT_EQ(spec->io_batch_wait_ns, 100'000);
}

TEST(WorkloadTest, BatchingWithEpollIsRefused) {
  auto w = Valid();
  w.set_io_batch(8);
  ExpectInvalid(w, "io_batch");
}

TEST(WorkloadTest, BatchWaitAboveTenMillisecondsIsRefused) {
  auto w = Valid();
  w.set_io_engine(rcbench::v1::IO_ENGINE_IO_URING);
  w.set_io_batch(8);
  w.mutable_io_batch_wait()->set_nanos(20'000'000);
  ExpectInvalid(w, "io_batch_wait");
}

TEST(WorkloadTest, IoEngineNamesParse) {
  EXPECT_EQ(ParseIoEngine("epoll"), IoEngine::kEpoll);
  EXPECT_EQ(ParseIoEngine("io_uring"), IoEngine::kIoUring);
  EXPECT_FALSE(ParseIoEngine("kqueue").has_value());
  EXPECT_STREQ(IoEngineName(IoEngine::kIoUring), "io_uring");
}

TEST(WorkloadTest, HttpUrlWithIpv6AndPathParses) {
  auto url = ParseHttpUrl("http://[::1]:8080/a/b?c=1");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->ip.family, AF_INET6);
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/a/b?c=1");
  EXPECT_EQ(url->host_header, "[::1]:8080");
}

TEST(WorkloadTest, HttpsUrlIsRefused) { EXPECT_FALSE(ParseHttpUrl("https://127.0.0.1/").ok()); }

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    path_ = ::testing::TempDir() + "/loadgen_config_" + std::to_string(getpid()) + ".yaml";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(ConfigTest, ConfigWithTwoClassesAndAFloodLoads) {
  const std::string path = Write(R"(
allow_targets: [10.213.0.0/30]
duration: 2s
threads: 2
classes:
  - name: high
    target: http://127.0.0.1:8080
    source_addresses: [127.0.0.2]
    mode: sclient
    clients: 2
    sockets: 4
    connect_timeout: 250ms
  - name: low
    target: http://10.213.0.2:8080
    mode: open
    rate: 500
    arrival: poisson
    paths: [{path: /index.html, weight: 9}, "/cgi-bin/spin?ms=5"]
syn_flood:
  target: 127.0.0.1:80
  spoof: 10.99.0.0/16
  rate: 1000
)");
  AllowList allow;
  auto w = LoadWorkloadConfig(path, &allow);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->http_classes_size(), 2);
  EXPECT_EQ(w->http_classes(0).sclient().connect_timeout().nanos(), 250'000'000);
  EXPECT_EQ(w->http_classes(1).paths(1).weight(), 1u);
  auto spec = ValidateWorkload(*w, allow, kMax);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->classes[1].poisson);
  ASSERT_TRUE(spec->flood.has_value());
  EXPECT_EQ(spec->flood->rate_pps, 1000);
}

TEST_F(ConfigTest, IoEngineAndBatchingLoad) {
  const std::string path = Write(R"(
duration: 1s
io: io_uring
io_batch: 16
io_batch_wait: 150us
classes:
  - {name: a, target: "http://127.0.0.1:8080", mode: closed, connections: 8}
)");
  auto w = LoadWorkloadConfig(path, nullptr);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->io_engine(), rcbench::v1::IO_ENGINE_IO_URING);
  EXPECT_EQ(w->io_batch(), 16u);
  EXPECT_EQ(w->io_batch_wait().nanos(), 150'000);
}

TEST_F(ConfigTest, UnknownIoEngineIsRefusedNamingTheKey) {
  const std::string path = Write("duration: 1s\nio: kqueue\n");
  auto w = LoadWorkloadConfig(path, nullptr);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("io: \"kqueue\""));
}

TEST_F(ConfigTest, UnknownKeyIsRefusedNamingIt) {
  const std::string path = Write("duration: 1s\nclasses:\n  - name: a\n    colour: red\n");
  auto w = LoadWorkloadConfig(path, nullptr);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("colour"));
}

TEST_F(ConfigTest, YamlSyntaxErrorNamesTheLine) {
  const std::string path = Write("duration: 1s\nclasses: [\n");
  auto w = LoadWorkloadConfig(path, nullptr);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr(path));
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  auto w = LoadWorkloadConfig("/nonexistent/rcbench.yaml", nullptr);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rcbench::loadgen
