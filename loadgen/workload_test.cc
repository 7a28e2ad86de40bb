#include "loadgen/workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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

// --- Hostile inputs (issue #14): counts, their products and sums, spoof prefixes. ---

WorkloadLimits Limits() {
  WorkloadLimits limits;
  limits.max_duration_ns = kMax;
  limits.open_files_limit = uint64_t{1} << 40;  // this machine's RLIMIT_NOFILE plays no part
  return limits;
}

absl::Status Check(const rcbench::v1::Workload& w, const WorkloadLimits& limits = Limits(),
                   const AllowList& allow = AllowList()) {
  return ValidateWorkload(w, allow, limits).status();
}

rcbench::v1::Workload Flood(const std::string& target, const std::string& spoof) {
  rcbench::v1::Workload w;
  w.mutable_duration()->set_seconds(1);
  w.mutable_syn_flood()->set_target(target);
  w.mutable_syn_flood()->set_spoof_cidr(spoof);
  w.mutable_syn_flood()->set_senders(1);
  return w;
}

TEST(WorkloadLimitsTest, SClientProductPast32BitsIsRefusedNamingBothFields) {
  auto w = Valid();
  auto* m = w.mutable_http_classes(0)->mutable_sclient();
  m->set_clients(65'536);
  m->set_sockets_per_client(65'536);  // 2^32: zero in 32-bit arithmetic
  const absl::Status s = Check(w);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("http_classes[0].sclient: clients (65536) x "
                                     "sockets_per_client (65536) = 4294967296"));
  EXPECT_THAT(s.message(), HasSubstr("maximum of 65536 (--max-sockets)"));
}

TEST(WorkloadLimitsTest, SClientProductJustPastTheLimitIsRefused) {
  auto w = Valid();
  auto* m = w.mutable_http_classes(0)->mutable_sclient();
  m->set_clients(257);
  m->set_sockets_per_client(256);  // 65,792
  EXPECT_EQ(Check(w).code(), absl::StatusCode::kInvalidArgument);
  m->set_clients(256);  // 65,536: exactly the limit
  EXPECT_TRUE(Check(w).ok()) << Check(w);
}

TEST(WorkloadLimitsTest, ClosedLoopOfAMillionConnectionsIsRefusedNamingTheField) {
  auto w = Valid();
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1'000'000);
  const absl::Status s = Check(w);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("http_classes[0].closed_loop.connections: 1000000"));
  EXPECT_THAT(s.message(), HasSubstr("--max-sockets"));
}

TEST(WorkloadLimitsTest, OpenLoopMaxConnectionsIsBounded) {
  auto w = Valid();
  auto* m = w.mutable_http_classes(0)->mutable_open_loop();
  m->set_rate_rps(100);
  m->set_max_connections(4'000'000'000u);
  EXPECT_THAT(Check(w).message(), HasSubstr("http_classes[0].open_loop.max_connections"));
}

TEST(WorkloadLimitsTest, SocketsAreSummedOverClasses) {
  auto w = Valid();
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(40'000);
  auto* b = w.add_http_classes();
  *b = w.http_classes(0);
  b->set_name("low");
  const absl::Status s = Check(w);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("together need 80000 concurrent sockets"));
}

TEST(WorkloadLimitsTest, MaxSocketsIsConfigurable) {
  auto w = Valid();
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(101);
  WorkloadLimits limits = Limits();
  limits.max_sockets = 100;
  EXPECT_THAT(Check(w, limits).message(), HasSubstr("maximum of 100 (--max-sockets)"));
  limits.max_sockets = 101;
  EXPECT_TRUE(Check(w, limits).ok());
}

TEST(WorkloadLimitsTest, DescriptorsBeyondRlimitNofileAreResourceExhaustedNamingIt) {
  auto w = Valid();
  w.set_threads(1);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(2'000);
  WorkloadLimits limits = Limits();
  limits.open_files_limit = 1'024;
  const absl::Status s = Check(w, limits);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("RLIMIT_NOFILE soft limit is 1024"));
  EXPECT_THAT(s.message(), HasSubstr("2065 file descriptors"));  // 2000 + 1 worker + 64
}

TEST(WorkloadLimitsTest, TheProcesssOwnRlimitNofileIsReadByDefault) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 512;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  auto w = Valid();
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(1'000);
  const absl::Status s = ValidateWorkload(w, AllowList(), kMax).status();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("RLIMIT_NOFILE soft limit is 512"));
}

TEST(WorkloadLimitsTest, WorkerThreadsAreSummedOverClasses) {
  auto w = Valid();
  w.set_threads(1'000);
  w.mutable_http_classes(0)->set_threads(64);
  w.mutable_http_classes(0)->mutable_closed_loop()->set_connections(64);
  EXPECT_THAT(Check(w).message(), HasSubstr("exceeds the maximum of 1024 worker threads"));
}

TEST(WorkloadLimitsTest, OpenLoopRatesAreSummedOverClasses) {
  auto w = Valid();
  w.mutable_http_classes(0)->mutable_open_loop()->set_rate_rps(6e6);
  *w.add_http_classes() = w.http_classes(0);
  w.mutable_http_classes(1)->set_name("low");
  EXPECT_THAT(Check(w).message(), HasSubstr("open_loop.rate_rps sums to"));
}

TEST(WorkloadLimitsTest, MoreThan64ClassesAreRefused) {
  auto w = Valid();
  for (int i = 1; i <= kMaxHttpClasses; ++i) {
    *w.add_http_classes() = w.http_classes(0);
    w.mutable_http_classes(i)->set_name(absl::StrCat("c", i));
  }
  EXPECT_THAT(Check(w).message(), HasSubstr("65 classes exceed the maximum of 64"));
}

TEST(WorkloadLimitsTest, PathAndHeaderCountsAndSizesAreBounded) {
  auto w = Valid();
  auto* c = w.mutable_http_classes(0);
  for (int i = 0; i <= kMaxPathsPerClass; ++i) c->add_paths()->set_path("/");
  EXPECT_THAT(Check(w).message(), HasSubstr("http_classes[0].paths: 257 paths"));
  c->clear_paths();
  auto* p = c->add_paths();
  p->set_path("/" + std::string(kMaxPathBytes, 'a'));
  p->set_weight(1);
  EXPECT_THAT(Check(w).message(), HasSubstr("http_classes[0].paths[0].path: 2049 bytes"));
  p->set_path("/");
  c->add_headers("X-Big: " + std::string(kMaxHeaderBytes, 'a'));
  EXPECT_THAT(Check(w).message(), HasSubstr("http_classes[0].headers[0]: 4103 bytes"));
}

TEST(WorkloadLimitsTest, RequestBytesCopiedIntoEveryWorkerAreBounded) {
  auto w = Valid();
  w.set_threads(1'000);
  auto* c = w.mutable_http_classes(0);
  c->mutable_closed_loop()->set_connections(1'000);
  for (int i = 0; i < kMaxPathsPerClass; ++i) {
    auto* p = c->add_paths();
    p->set_path("/" + std::string(1'000, 'a'));
    p->set_weight(1);
  }
  // ~270 KB of requests, one copy per worker: ~270 MB.
  EXPECT_THAT(Check(w).message(), HasSubstr("copied into 1000 workers"));
}

TEST(WorkloadLimitsTest, HugeDurationSecondsDoNotOverflow) {
  auto w = Valid();
  w.mutable_duration()->set_seconds(std::numeric_limits<int64_t>::max());
  EXPECT_THAT(Check(w).message(), HasSubstr("exceeds the generator's maximum"));
  w.mutable_duration()->set_seconds(std::numeric_limits<int64_t>::min());
  EXPECT_THAT(Check(w).message(), HasSubstr("must be positive"));
}

TEST(WorkloadLimitsTest, SpoofPrefixOverlappingLoopbackIsRefused) {
  const absl::Status s = Check(Flood("127.0.0.1:80", "127.99.0.0/16"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("syn_flood.spoof_cidr: 127.99.0.0/16 overlaps the loopback "
                                     "prefix 127.0.0.0/8"));
  // A prefix wider than loopback overlaps it too.
  AllowList allow;
  ASSERT_TRUE(allow.Add("10.213.0.0/30").ok());
  EXPECT_THAT(Check(Flood("10.213.0.2:80", "64.0.0.0/2"), Limits(), allow).message(),
              HasSubstr("64.0.0.0/2 overlaps the loopback prefix 127.0.0.0/8"));
}

TEST(WorkloadLimitsTest, SpoofPrefixContainingTheTargetIsRefused) {
  AllowList allow;
  ASSERT_TRUE(allow.Add("10.213.0.0/30").ok());
  const absl::Status s = Check(Flood("10.213.0.2:80", "10.213.0.0/24"), Limits(), allow);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("10.213.0.0/24 contains the flood's own target 10.213.0.2"));
  EXPECT_THAT(Check(Flood("[::1]:80", "::/0")).message(), HasSubstr("contains the flood's own"));
}

TEST(WorkloadLimitsTest, SpoofPrefixOverlappingIpv6LoopbackIsRefused) {
  AllowList allow;
  ASSERT_TRUE(allow.Add("fd00:213::/64").ok());
  EXPECT_THAT(Check(Flood("[fd00:213::2]:80", "::/120"), Limits(), allow).message(),
              HasSubstr("overlaps the loopback prefix ::1/128"));
  EXPECT_THAT(Check(Flood("[fd00:213::2]:80", "::ffff:127.0.0.0/112"), Limits(), allow).message(),
              HasSubstr("::ffff:127.0.0.0/104"));
}

TEST(WorkloadLimitsTest, SpoofPrefixOverlappingAnAllowListedPrefixIsRefused) {
  AllowList allow;
  ASSERT_TRUE(allow.Add("10.213.0.0/30").ok());
  ASSERT_TRUE(allow.Add("10.214.0.0/16").ok());
  const absl::Status s = Check(Flood("10.213.0.2:80", "10.214.7.0/24"), Limits(), allow);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("10.214.7.0/24 overlaps the allow-listed target prefix 10.214.0.0/16"));
}

TEST(WorkloadLimitsTest, SpoofPrefixApartFromTargetsAndLoopbackIsAccepted) {
  AllowList allow;
  ASSERT_TRUE(allow.Add("10.213.0.0/30").ok());
  EXPECT_TRUE(Check(Flood("10.213.0.2:80", "10.99.0.0/16"), Limits(), allow).ok());
  EXPECT_TRUE(Check(Flood("127.0.0.1:80", "10.99.0.0/16")).ok());
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

TEST_F(ConfigTest, ConfigLargerThanTheLimitIsRefusedUnparsed) {
  const std::string path = Write("duration: 1s\n" + std::string(kMaxConfigBytes, '#'));
  auto w = LoadWorkloadConfig(path, nullptr);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(),
              HasSubstr(path + ":1:1: the config file is larger than the limit of 1048576 bytes"));
}

TEST_F(ConfigTest, AliasesCannotMultiplyClassesPastTheLimit) {
  std::string text =
      "duration: 1s\nclasses: [&c {name: a, target: \"http://127.0.0.1:80\", "
      "mode: closed, connections: 1}";
  for (int i = 0; i < kMaxHttpClasses; ++i) text += ", *c";
  const std::string path = Write(text + "]\n");
  auto w = LoadWorkloadConfig(path, nullptr);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("classes: 65 entries exceed the maximum of 64"));
}

TEST_F(ConfigTest, SClientOverflowInAConfigIsRefusedByValidation) {
  const std::string path = Write(R"(
duration: 1s
classes:
  - {name: a, target: "http://127.0.0.1:80", mode: sclient, clients: 65536, sockets: 65536}
)");
  auto w = LoadWorkloadConfig(path, nullptr);
  ASSERT_TRUE(w.ok()) << w.status();
  auto spec = ValidateWorkload(*w, AllowList(), kMax);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("clients (65536) x sockets_per_client (65536)"));
}

TEST(ParseConfigTest, SpecModeNamesLoadAndErrorsNameFileLineAndColumn) {
  auto w = ParseWorkloadConfig(
      "classes:\n  - {name: a, target: \"http://127.0.0.1:80\", mode: open_loop, rate: 5}\n"
      "  - {name: b, target: \"http://127.0.0.1:80\", mode: closed_loop, connections: 2}\n",
      "c.yaml", nullptr);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->http_classes(0).open_loop().rate_rps(), 5);
  EXPECT_EQ(w->http_classes(1).closed_loop().connections(), 2u);
  EXPECT_EQ(
      ParseWorkloadConfig("classes:\n  - {mode: closed, connections: -1}\n", "c.yaml", nullptr)
          .status()
          .message(),
      "c.yaml:2:33: classes[0].connections: expected an integer in [0, 4294967295]");
  EXPECT_THAT(
      ParseWorkloadConfig("classes:\n  - {mode: bursty}\n", "c.yaml", nullptr).status().message(),
      HasSubstr("c.yaml:2:12: classes[0].mode: \"bursty\" is not a load class mode; expected "
                "sclient, open_loop or closed_loop"));
  EXPECT_THAT(ParseWorkloadConfig("threads: many\n", "c.yaml", nullptr).status().message(),
              HasSubstr("c.yaml:1:10: threads: expected an integer"));
}

TEST(ParseConfigTest, TextParsesWithoutAFile) {
  auto w = ParseWorkloadConfig("duration: 1s\nthreads: 3\n", "inline", nullptr);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->threads(), 3u);
  EXPECT_THAT(ParseWorkloadConfig("threads: [", "inline", nullptr).status().message(),
              HasSubstr("inline"));
}

// The fuzzer's seed corpus doubles as a regression list: every hostile_* seed is refused with a
// clear status, every valid_* seed is accepted.
TEST(FuzzCorpusTest, HostileSeedsAreRefusedAndValidSeedsAccepted) {
  const std::string dir = std::filesystem::path(__FILE__).parent_path().string() + "/fuzz/corpus";
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    AllowList allow;
    absl::StatusOr<rcbench::v1::Workload> w;
    if (absl::EndsWith(name, ".yaml")) {
      w = ParseWorkloadConfig(bytes, name, &allow);
    } else {
      rcbench::v1::Workload parsed;
      ASSERT_TRUE(parsed.ParseFromString(bytes)) << name;
      w = parsed;
    }
    absl::Status s = w.status();
    if (s.ok()) s = ValidateWorkload(*w, allow, Limits()).status();
    if (absl::StartsWith(name, "valid_")) {
      EXPECT_TRUE(s.ok()) << name << ": " << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name << ": " << s;
    }
    ++seen;
  }
  EXPECT_GE(seen, 20);
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  auto w = LoadWorkloadConfig("/nonexistent/rcbench.yaml", nullptr);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rcbench::loadgen
