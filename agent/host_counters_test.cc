#include "agent/host_counters.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

constexpr const char* kNetstat =
    "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops "
    "TCPReqQFullDrop Unwanted\n"
    "TcpExt: 5 4 3 17 19 2 99\n"
    "IpExt: InNoRoutes\nIpExt: 0\n";
constexpr const char* kSnmp =
    "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
    "Tcp: RtoAlgorithm ActiveOpens PassiveOpens EstabResets CurrEstab InSegs OutRsts "
    "InCsumErrors\n"
    "Tcp: 1 10 20 3 -1 1000 7 0\n";

class FakeProc {
 public:
  FakeProc() {
    char tmpl[] = "/tmp/rcbench-fakeproc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/net");
    Write("stat", "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\nintr 1 2 3\n");
    Write("net/netstat", kNetstat);
    Write("net/snmp", kSnmp);
    Write("loadavg", "0.50 0.25 0.10 1/100 1234\n");
    Write("net/sockstat", "sockets: used 122\nTCP: inuse 105 orphan 23 tw 44928 alloc 105 mem 0\n");
  }
  ~FakeProc() { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::trunc) << text;
  }
  std::string dir_;
};

TEST(HostCounterReaderTest, ReadsCpuTcpAndLoadFromProc) {
  FakeProc proc;
  auto r = HostCounterReader::Create(proc.dir_);
  ASSERT_TRUE(r.ok());
  rcbench::v1::HostCounters h;
  ASSERT_TRUE((*r)->Read(&h).ok());
  const uint64_t tick_ns = 1'000'000'000 / sysconf(_SC_CLK_TCK);
  EXPECT_EQ(h.cpu_user_ns(), 100 * tick_ns);
  EXPECT_EQ(h.cpu_softirq_ns(), 7 * tick_ns);
  EXPECT_EQ(h.cpu_steal_ns(), 8 * tick_ns);
  EXPECT_EQ(h.tcp().at("ListenOverflows"), 17u);
  EXPECT_EQ(h.tcp().at("ListenDrops"), 19u);
  EXPECT_EQ(h.tcp().at("TCPReqQFullDrop"), 2u);
  EXPECT_EQ(h.tcp().at("SyncookiesSent"), 5u);
  EXPECT_EQ(h.tcp().at("PassiveOpens"), 20u);
  EXPECT_EQ(h.tcp().at("OutRsts"), 7u);
  EXPECT_EQ(h.tcp().at("CurrEstab"), 0u);  // negative values clamp to 0
  EXPECT_EQ(h.tcp().count("Unwanted"), 0u);
  EXPECT_DOUBLE_EQ(h.loadavg_1m(), 0.5);
  EXPECT_DOUBLE_EQ(h.loadavg_15m(), 0.1);
  EXPECT_EQ(h.tcp_time_wait(), 44928u);
  EXPECT_EQ(h.tcp_sockets().at("TIME_WAIT"), 44928u);
}

TEST(ParseSockstatTimeWaitTest, MissingTwFieldIsInvalidArgument) {
  rcbench::v1::HostCounters h;
  EXPECT_EQ(ParseSockstatTimeWait("TCP: inuse 1\n", &h).code(), absl::StatusCode::kInvalidArgument);
}

TEST(HostCounterReaderTest, RereadsTheSameDescriptorsAfterChanges) {
  FakeProc proc;
  auto r = HostCounterReader::Create(proc.dir_);
  ASSERT_TRUE(r.ok());
  rcbench::v1::HostCounters h;
  ASSERT_TRUE((*r)->Read(&h).ok());
  proc.Write("loadavg", "2.00 1.00 0.50 1/100 1234\n");
  ASSERT_TRUE((*r)->Read(&h).ok());
  EXPECT_DOUBLE_EQ(h.loadavg_1m(), 2.0);
}

TEST(HostCounterReaderTest, MissingProcStatIsNotFound) {
  EXPECT_EQ(HostCounterReader::Create("/nonexistent").status().code(), absl::StatusCode::kNotFound);
}

TEST(ParseProcStatTest, ShortCpuLineIsInvalidArgument) {
  rcbench::v1::HostCounters h;
  EXPECT_EQ(ParseProcStat("cpu 1 2 3\n", 100, &h).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProcStat("intr 1\n", 100, &h).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProcStat("cpu a b c d e f g h\n", 100, &h).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseProtoCountersTest, MismatchedValueLineIsInvalidArgument) {
  rcbench::v1::HostCounters h;
  EXPECT_EQ(ParseProtoCounters("TcpExt: A B\nTcpExt: 1\n", "TcpExt", &h).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProtoCounters("TcpExt: ListenDrops\nTcpExt: x\n", "TcpExt", &h).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProtoCounters("Ip: A\nIp: 1\n", "Tcp", &h).code(), absl::StatusCode::kNotFound);
}

TEST(ParseLoadAvgTest, GarbageIsInvalidArgument) {
  rcbench::v1::HostCounters h;
  EXPECT_EQ(ParseLoadAvg("high\n", &h).code(), absl::StatusCode::kInvalidArgument);
}

TEST(HostCounterReaderTest, RealProcHasSoftirqAndListenCounters) {
  auto r = HostCounterReader::Create("/proc");
  ASSERT_TRUE(r.ok());
  rcbench::v1::HostCounters h;
  ASSERT_TRUE((*r)->Read(&h).ok());
  EXPECT_GT(h.cpu_idle_ns() + h.cpu_user_ns(), 0u);
  EXPECT_EQ(h.tcp().count("ListenOverflows"), 1u);
  EXPECT_EQ(h.tcp().count("InCsumErrors"), 1u);
}

}  // namespace
}  // namespace rcbench::agent
