#include "loadgen/syn_flood.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "common/testing/fake_clock.h"

namespace rcbench::loadgen {
namespace {

// Full (not incremental) Internet checksum over `n` bytes, folded and complemented.
uint16_t Checksum(const std::vector<uint8_t>& bytes) {
  uint64_t sum = 0;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.size() & 1) sum += bytes.back() << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Recomputes the TCP checksum of a packet from scratch, with the pseudo-header.
bool TcpChecksumIsValid(const uint8_t* p, size_t len, int family) {
  const size_t ip_len = family == AF_INET ? 20 : 40;
  const size_t addr_len = family == AF_INET ? 4 : 16;
  const size_t src = family == AF_INET ? 12 : 8;
  std::vector<uint8_t> pseudo(p + src, p + src + 2 * addr_len);
  const size_t tcp_len = len - ip_len;
  pseudo.push_back(0);
  pseudo.push_back(IPPROTO_TCP);
  pseudo.push_back(static_cast<uint8_t>(tcp_len >> 8));
  pseudo.push_back(static_cast<uint8_t>(tcp_len));
  pseudo.insert(pseudo.end(), p + ip_len, p + len);
  return Checksum(pseudo) == 0;
}

SynPacketTemplate Make(const std::string& target, uint16_t port, const std::string& spoof) {
  auto t = SynPacketTemplate::Create(*IpAddress::Parse(target), port, *Cidr::Parse(spoof));
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(SynPacketTest, Ipv4ChecksumsAreCorrectForRandomFields) {
  const auto t = Make("10.213.0.2", 80, "10.99.0.0/16");
  uint8_t buf[SynPacketTemplate::kMaxPacketSize];
  uint64_t r = 12345;
  for (int i = 0; i < 2000; ++i) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    const size_t len = t.Fill(buf, r, r * 31 + i);
    ASSERT_EQ(len, 44u);
    EXPECT_EQ(Checksum(std::vector<uint8_t>(buf, buf + 20)), 0) << "IP header, packet " << i;
    EXPECT_TRUE(TcpChecksumIsValid(buf, len, AF_INET)) << "packet " << i;
  }
}

TEST(SynPacketTest, Ipv6ChecksumIsCorrectForRandomFields) {
  const auto t = Make("fd00:213::2", 8080, "fd00:99::/64");
  uint8_t buf[SynPacketTemplate::kMaxPacketSize];
  uint64_t r = 99;
  for (int i = 0; i < 2000; ++i) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    const size_t len = t.Fill(buf, r, r ^ (r >> 7));
    ASSERT_EQ(len, 64u);
    EXPECT_EQ(buf[0] >> 4, 6);
    EXPECT_TRUE(TcpChecksumIsValid(buf, len, AF_INET6)) << "packet " << i;
  }
}

TEST(SynPacketTest, SourcesStayInsideTheCidrAndVary) {
  const auto t = Make("10.213.0.2", 80, "10.99.128.0/17");
  const Cidr cidr = *Cidr::Parse("10.99.128.0/17");
  uint8_t buf[SynPacketTemplate::kMaxPacketSize];
  std::set<std::string> sources;
  std::set<uint16_t> ports;
  std::set<uint32_t> seqs;
  uint64_t r = 7;
  for (int i = 0; i < 1000; ++i) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    t.Fill(buf, r, r * 0x9E3779B97F4A7C15ULL);
    IpAddress src;
    src.family = AF_INET;
    std::memcpy(src.bytes.data(), buf + 12, 4);
    ASSERT_TRUE(cidr.Contains(src)) << src.ToString();
    sources.insert(src.ToString());
    ports.insert(static_cast<uint16_t>((buf[20] << 8) | buf[21]));
    seqs.insert((uint32_t{buf[24]} << 24) | (buf[25] << 16) | (buf[26] << 8) | buf[27]);
    EXPECT_EQ(buf[33], 0x02) << "SYN flag only";
    EXPECT_EQ((buf[22] << 8) | buf[23], 80);
  }
  EXPECT_GT(sources.size(), 900u);
  EXPECT_GT(ports.size(), 900u);
  EXPECT_GT(seqs.size(), 990u);
}

TEST(SynPacketTest, FamilyMismatchIsRefused) {
  auto t = SynPacketTemplate::Create(*IpAddress::Parse("::1"), 80, *Cidr::Parse("10.0.0.0/8"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenBucketTest, GrantsTheRateOverAWindowWithIrregularPolling) {
  TokenBucket bucket(500'000, 10'000, 0);
  uint64_t granted = 0;
  int64_t now = 0;
  uint64_t step = 1;
  while (now < 1'000'000'000) {
    step = (step * 1103515245 + 12345) % 300'000;  // 0..300 µs between polls
    now += static_cast<int64_t>(step);
    granted += bucket.Take(now, 1000);
  }
  EXPECT_NEAR(static_cast<double>(granted), 500'000.0, 500'000 * 0.02);
}

TEST(TokenBucketTest, NanosUntilPredictsWhenTokensAreThere) {
  TokenBucket bucket(1000, 10, 0);
  EXPECT_EQ(bucket.Take(0, 1), 0u);
  const int64_t wait = bucket.NanosUntil(0, 5);
  EXPECT_NEAR(static_cast<double>(wait), 5e6, 1e3);
  EXPECT_EQ(bucket.Take(wait, 5), 5u);
}

// Counts what it is given; optionally refuses a share of the packets (a full queue).
class FakePacketOutput : public PacketOutput {
 public:
  int Send(uint8_t* const* packets, const uint32_t* lengths, int count) override {
    for (int i = 0; i < count; ++i) last_length = lengths[i];
    sent += static_cast<uint64_t>(count);
    batches++;
    return count;
  }
  uint64_t sent = 0;
  uint64_t batches = 0;
  uint32_t last_length = 0;
};

void ExpectRate(double rate) {
  rcbench::testing::FakeClock clock(0);
  FakePacketOutput out;
  const auto t = Make("127.0.0.1", 80, "127.99.0.0/16");
  SynSenderOptions options;
  options.rate_pps = rate;
  options.end_ns = 1'000'000'000;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0}, errors{0};
  RunSynSender(t, &out, &clock, options, stop, &sent, &errors);
  EXPECT_NEAR(static_cast<double>(sent.load()), rate, rate * 0.02) << "rate " << rate;
  EXPECT_EQ(sent.load(), out.sent);
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(out.last_length, 44u);
  EXPECT_GE(clock.MonotonicNanos(), options.end_ns);
}

TEST(SynSenderTest, RateIsWithinTwoPercentAtTenThousandPps) { ExpectRate(10'000); }
TEST(SynSenderTest, RateIsWithinTwoPercentAtFiveHundredThousandPps) { ExpectRate(500'000); }
TEST(SynSenderTest, RateIsWithinTwoPercentAtAFewHundredPps) { ExpectRate(300); }

TEST(SynSenderTest, StopFlagEndsAnUnlimitedFlood) {
  rcbench::testing::FakeClock clock(0);
  FakePacketOutput out;
  const auto t = Make("127.0.0.1", 80, "127.99.0.0/16");
  SynSenderOptions options;
  options.end_ns = 1'000'000'000;
  std::atomic<bool> stop{true};
  std::atomic<uint64_t> sent{0}, errors{0};
  RunSynSender(t, &out, &clock, options, stop, &sent, &errors);
  EXPECT_EQ(sent.load(), 0u);
}

}  // namespace
}  // namespace rcbench::loadgen
