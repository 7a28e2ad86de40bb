#include "loadgen/syn_flood.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rcbench::loadgen {
namespace {

uint32_t Sum16(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
  if (n & 1) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}

uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void Put32(uint8_t* p, uint32_t v) {
  Put16(p, static_cast<uint16_t>(v >> 16));
  Put16(p + 2, static_cast<uint16_t>(v));
}

constexpr size_t kTcpLen = 24;  // 20-byte header + MSS option, as real SYNs carry

}  // namespace

absl::StatusOr<SynPacketTemplate> SynPacketTemplate::Create(const IpAddress& target,
                                                            uint16_t target_port,
                                                            const Cidr& spoof) {
  if (spoof.family() != target.family) {
    return absl::InvalidArgumentError("spoofed prefix and target differ in address family");
  }
  SynPacketTemplate t;
  t.family_ = target.family;
  t.addr_len_ = target.size();
  uint8_t* b = t.bytes_.data();
  uint32_t pseudo = 0;
  if (t.family_ == AF_INET) {
    b[0] = 0x45;
    Put16(b + 2, 20 + kTcpLen);
    Put16(b + 6, 0x4000);  // DF
    b[8] = 64;
    b[9] = IPPROTO_TCP;
    std::memcpy(b + 16, target.bytes.data(), 4);
    t.ip_src_offset_ = 12;
    t.tcp_offset_ = 20;
    t.ip_sum_base_ = Sum16(b, 20);
    pseudo = Sum16(target.bytes.data(), 4) + IPPROTO_TCP + kTcpLen;
  } else {
    b[0] = 0x60;
    Put16(b + 4, kTcpLen);
    b[6] = IPPROTO_TCP;
    b[7] = 64;
    std::memcpy(b + 24, target.bytes.data(), 16);
    t.ip_src_offset_ = 8;
    t.tcp_offset_ = 40;
    pseudo = Sum16(target.bytes.data(), 16) + IPPROTO_TCP + kTcpLen;
  }
  uint8_t* tcp = b + t.tcp_offset_;
  Put16(tcp + 2, target_port);
  tcp[12] = (kTcpLen / 4) << 4;
  tcp[13] = 0x02;  // SYN
  Put16(tcp + 14, 64240);
  tcp[20] = 2;  // MSS
  tcp[21] = 4;
  Put16(tcp + 22, 1460);
  t.tcp_sum_base_ = pseudo + Sum16(tcp, kTcpLen);
  t.length_ = t.tcp_offset_ + kTcpLen;
  const int len = spoof.prefix_len();
  for (size_t i = 0; i < t.addr_len_; ++i) {
    const int bits = std::clamp(len - static_cast<int>(i) * 8, 0, 8);
    const uint8_t net_mask = static_cast<uint8_t>(0xff00 >> bits);
    t.net_[i] = spoof.network().bytes[i] & net_mask;
    t.host_mask_[i] = static_cast<uint8_t>(~net_mask);
  }
  return t;
}

size_t SynPacketTemplate::Fill(uint8_t* out, uint64_t r1, uint64_t r2) const {
  std::memcpy(out, bytes_.data(), length_);
  uint8_t* src = out + ip_src_offset_;
  uint64_t bits = r1;
  for (size_t i = 0; i < addr_len_; ++i) {
    if (i == 8) bits = r1 * 0x9E3779B97F4A7C15ULL ^ r2;  // fresh bits for the low half of v6
    src[i] = net_[i] | (static_cast<uint8_t>(bits) & host_mask_[i]);
    bits >>= 8;
  }
  const uint32_t src_sum = Sum16(src, addr_len_);
  const uint16_t port = static_cast<uint16_t>(1024 + (r2 & 0xffff) % 64512);
  const uint32_t seq = static_cast<uint32_t>(r2 >> 32);
  uint8_t* tcp = out + tcp_offset_;
  Put16(tcp, port);
  Put32(tcp + 4, seq);
  const uint64_t tcp_sum = uint64_t{tcp_sum_base_} + src_sum + port + (seq >> 16) + (seq & 0xffff);
  Put16(tcp + 16, static_cast<uint16_t>(~Fold(tcp_sum)));
  if (family_ == AF_INET) {
    const uint16_t id = static_cast<uint16_t>(r2 >> 16);
    Put16(out + 4, id);
    Put16(out + 10, static_cast<uint16_t>(~Fold(uint64_t{ip_sum_base_} + src_sum + id)));
  }
  return length_;
}

absl::StatusOr<std::unique_ptr<PacketOutput>> RawSocketOutput::Open(const SocketAddress& target) {
  const int fd = socket(target.family(), SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError(
          "SYN flood needs CAP_NET_RAW for a raw socket (run as root)");
    }
    return absl::InternalError(absl::StrCat("raw socket: ", std::strerror(err)));
  }
  return std::unique_ptr<PacketOutput>(new RawSocketOutput(fd, target));
}

namespace {

// One sendmmsg of up to kBatch packets to `dest`; returns how many were sent, or -errno.
int SendBatch(int fd, void* dest, socklen_t dest_len, uint8_t* const* packets,
              const uint32_t* lengths, int count) {
  mmsghdr msgs[SynSenderOptions::kBatch];
  iovec iov[SynSenderOptions::kBatch];
  count = std::min(count, SynSenderOptions::kBatch);
  for (int i = 0; i < count; ++i) {
    iov[i] = {packets[i], lengths[i]};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_name = dest;
    msgs[i].msg_hdr.msg_namelen = dest_len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = sendmmsg(fd, msgs, static_cast<unsigned>(count), MSG_DONTWAIT);
  return n < 0 ? -errno : n;
}

}  // namespace

RawSocketOutput::~RawSocketOutput() { close(fd_); }

int RawSocketOutput::Send(uint8_t* const* packets, const uint32_t* lengths, int count) {
  return SendBatch(fd_, &target_.storage, target_.length, packets, lengths, count);
}

namespace {

// Looks up the link-layer address of `ip` on `interface` in /proc/net/arp.
bool FindNeighbour(const std::string& interface, const IpAddress& ip, uint8_t mac[6]) {
  std::ifstream arp("/proc/net/arp");
  std::string line;
  std::getline(arp, line);  // header
  const std::string want = ip.ToString();
  while (std::getline(arp, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 6 || f[0] != want || f[5] != interface) continue;
    unsigned flags = 0;
    unsigned m[6];
    if (std::sscanf(f[2].c_str(), "%x", &flags) != 1 || !(flags & 0x2)) continue;
    if (std::sscanf(f[3].c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) !=
        6) {
      continue;
    }
    for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(m[i]);
    return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PacketOutput>> PacketSocketOutput::Open(const std::string& interface,
                                                                       const IpAddress& target) {
  if (target.family != AF_INET) {
    return absl::InvalidArgumentError(
        "a packet-socket flood (--interface) supports IPv4 targets only; omit the interface to "
        "use the routed raw socket");
  }
  const unsigned ifindex = if_nametoindex(interface.c_str());
  if (ifindex == 0) {
    return absl::InvalidArgumentError(absl::StrCat("interface \"", interface, "\" not found"));
  }
  uint8_t mac[6];
  if (!FindNeighbour(interface, target, mac)) {
    // One datagram to the discard port makes the kernel resolve the neighbour.
    const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp >= 0) {
      const SocketAddress a = SocketAddress::From(target, 9);
      sendto(udp, "", 0, 0, a.get(), a.length);
      close(udp);
    }
    bool found = false;
    for (int i = 0; i < 100 && !found; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      found = FindNeighbour(interface, target, mac);
    }
    if (!found) {
      return absl::UnavailableError(absl::StrCat("no neighbour entry for ", target.ToString(),
                                                 " on ", interface, " (is it reachable there?)"));
    }
  }
  // Protocol 0: the socket only sends. With ETH_P_IP it would also be handed a copy of every
  // IPv4 packet the host receives (the flood's answers included), which costs the sender's
  // core a packet_rcv per answer.
  const int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError("SYN flood needs CAP_NET_RAW for a packet socket");
    }
    return absl::InternalError(absl::StrCat("packet socket: ", std::strerror(err)));
  }
  // Like trafgen: skip the qdisc layer (the flood is paced by its own token bucket).
  const int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
  auto out = std::unique_ptr<PacketSocketOutput>(new PacketSocketOutput(fd));
  auto* ll = reinterpret_cast<sockaddr_ll*>(&out->link_);
  ll->sll_family = AF_PACKET;
  ll->sll_protocol = htons(ETH_P_IP);
  ll->sll_ifindex = static_cast<int>(ifindex);
  ll->sll_halen = 6;
  std::memcpy(ll->sll_addr, mac, 6);
  return std::unique_ptr<PacketOutput>(std::move(out));
}

PacketSocketOutput::~PacketSocketOutput() { close(fd_); }

int PacketSocketOutput::Send(uint8_t* const* packets, const uint32_t* lengths, int count) {
  return SendBatch(fd_, &link_, sizeof(sockaddr_ll), packets, lengths, count);
}

absl::StatusOr<std::unique_ptr<PacketOutput>> OpenPacketOutput(const FloodSpec& flood) {
  if (!flood.interface.empty()) return PacketSocketOutput::Open(flood.interface, flood.target_ip);
  // Port 0: for IPv6 raw sockets the port field selects the protocol (EINVAL above 255).
  return RawSocketOutput::Open(SocketAddress::From(flood.target_ip, 0));
}

TokenBucket::TokenBucket(double rate_per_second, double burst, int64_t now_ns)
    : rate_per_ns_(rate_per_second / 1e9), burst_(burst), last_ns_(now_ns) {}

void TokenBucket::Refill(int64_t now_ns) {
  if (now_ns > last_ns_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
    last_ns_ = now_ns;
  }
}

uint64_t TokenBucket::Take(int64_t now_ns, uint64_t want) {
  Refill(now_ns);
  const uint64_t n = std::min<uint64_t>(want, static_cast<uint64_t>(tokens_));
  tokens_ -= static_cast<double>(n);
  return n;
}

int64_t TokenBucket::NanosUntil(int64_t now_ns, uint64_t n) const {
  double have = tokens_;
  if (now_ns > last_ns_) have = std::min(burst_, have + (now_ns - last_ns_) * rate_per_ns_);
  const double missing = static_cast<double>(n) - have;
  if (missing <= 0) return 0;
  return static_cast<int64_t>(missing / rate_per_ns_) + 1;
}

void RunSynSender(const SynPacketTemplate& tmpl, PacketOutput* out, Clock* clock,
                  const SynSenderOptions& options, const std::atomic<bool>& stop,
                  std::atomic<uint64_t>* sent, std::atomic<uint64_t>* errors) {
  constexpr int kBatch = SynSenderOptions::kBatch;
  alignas(64) uint8_t buffers[kBatch][SynPacketTemplate::kMaxPacketSize];
  uint8_t* packets[kBatch];
  uint32_t lengths[kBatch];
  for (int i = 0; i < kBatch; ++i) packets[i] = buffers[i];
  uint64_t s0 = options.seed * 0x9E3779B97F4A7C15ULL + 1;
  uint64_t s1 = options.seed ^ 0xD1B54A32D192ED03ULL;
  auto next = [&] {  // xorshift128+
    uint64_t x = s0;
    const uint64_t y = s1;
    s0 = y;
    x ^= x << 23;
    s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s1 + y;
  };
  const double rate = options.rate_pps;
  // Bank at most 20 ms of tokens: an oversleep is made up, yet the rate over any window
  // longer than a second stays within 2%.
  TokenBucket bucket(rate, std::max(2.0 * kBatch, rate * 0.02), clock->MonotonicNanos());
  const uint64_t wake_batch =
      static_cast<uint64_t>(std::clamp(rate * 0.0002, 1.0, static_cast<double>(kBatch)));
  while (!stop.load(std::memory_order_relaxed)) {
    const int64_t now = clock->MonotonicNanos();
    if (now >= options.end_ns) break;
    int n = kBatch;
    if (rate > 0) {
      n = static_cast<int>(bucket.Take(now, kBatch));
      if (n == 0) {
        const int64_t wait = std::min<int64_t>(
            {bucket.NanosUntil(now, wake_batch), options.end_ns - now, 10'000'000});
        clock->SleepFor(std::chrono::nanoseconds(std::max<int64_t>(wait, 1)));
        continue;
      }
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t r1 = next();
      lengths[i] = static_cast<uint32_t>(tmpl.Fill(packets[i], r1, next()));
    }
    int done = 0;
    while (done < n) {
      const int r = out->Send(packets + done, lengths + done, n - done);
      if (r > 0) {
        done += r;
        continue;
      }
      if (r == -EINTR) continue;
      if (r == -EAGAIN || r == -EWOULDBLOCK) {
        // Socket buffer full (e.g. packets held for neighbour resolution): wait briefly, but
        // never past the run's bound.
        if (stop.load(std::memory_order_relaxed) || clock->MonotonicNanos() >= options.end_ns) {
          break;
        }
        clock->SleepFor(std::chrono::microseconds(100));
        continue;
      }
      // ENOBUFS and the like: the queue is full; these packets are lost (counted).
      errors->fetch_add(static_cast<uint64_t>(n - done), std::memory_order_relaxed);
      break;
    }
    sent->fetch_add(static_cast<uint64_t>(done), std::memory_order_relaxed);
  }
}

}  // namespace rcbench::loadgen
