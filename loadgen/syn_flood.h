#pragma once

// Bounded SYN floods: TCP SYNs (IPv4 or IPv6) with spoofed sources drawn from a prefix,
// random source ports and sequence numbers, and correct IP and TCP checksums, computed by
// incremental update (RFC 1624) over a precomputed template. Packets leave in batches through
// a PacketOutput (a routed raw socket, or a packet socket on a named interface), paced by a
// token bucket, one sender per core.
//
// Safety is the caller's job: ValidateWorkload has checked the target against the allow-list
// before any of this is built.

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/cidr.h"
#include "common/clock.h"
#include "loadgen/workload.h"

namespace rcbench::loadgen {

// One SYN, ready to copy and patch. Value type; thread-compatible (Fill is const).
class SynPacketTemplate {
 public:
  static constexpr size_t kMaxPacketSize = 64;

  // INVALID_ARGUMENT if the families of `target` and `spoof` differ.
  static absl::StatusOr<SynPacketTemplate> Create(const IpAddress& target, uint16_t target_port,
                                                  const Cidr& spoof);

  // Writes one packet (IP header onwards) into `out` (kMaxPacketSize bytes) using the random
  // bits in r1 (source address host bits) and r2 (source port, sequence number, IP id);
  // returns its length.
  size_t Fill(uint8_t* out, uint64_t r1, uint64_t r2) const;

  int family() const { return family_; }
  size_t length() const { return length_; }

 private:
  int family_ = AF_INET;
  size_t length_ = 0;
  size_t ip_src_offset_ = 0;
  size_t addr_len_ = 4;
  size_t tcp_offset_ = 0;
  std::array<uint8_t, kMaxPacketSize> bytes_{};
  std::array<uint8_t, 16> net_{};
  std::array<uint8_t, 16> host_mask_{};
  uint32_t ip_sum_base_ = 0;   // IPv4 header sum with source, id and checksum zero
  uint32_t tcp_sum_base_ = 0;  // pseudo-header + TCP sum with source, port, seq zero
};

// Where packets go. Implementations: RawSocketOutput, PacketSocketOutput; tests use a fake.
// Not thread-safe: one per sender thread.
class PacketOutput {
 public:
  virtual ~PacketOutput() = default;
  // Hands `count` packets to the kernel; returns how many it took, or -errno.
  virtual int Send(uint8_t* const* packets, const uint32_t* lengths, int count) = 0;
};

// A routed raw socket (IPPROTO_RAW: header included) using sendmmsg. Needs CAP_NET_RAW
// (PERMISSION_DENIED otherwise).
class RawSocketOutput : public PacketOutput {
 public:
  static absl::StatusOr<std::unique_ptr<PacketOutput>> Open(const SocketAddress& target);
  ~RawSocketOutput() override;
  int Send(uint8_t* const* packets, const uint32_t* lengths, int count) override;

 private:
  RawSocketOutput(int fd, const SocketAddress& target) : fd_(fd), target_(target) {}
  int fd_;
  SocketAddress target_;
};

// A packet socket (AF_PACKET, SOCK_DGRAM) on `interface`, sending to the target's link-layer
// address from the neighbour table (resolved first with one UDP datagram to the target's
// discard port if missing). Cheaper per packet than the routed path. IPv4 only.
class PacketSocketOutput : public PacketOutput {
 public:
  static absl::StatusOr<std::unique_ptr<PacketOutput>> Open(const std::string& interface,
                                                            const IpAddress& target);
  ~PacketSocketOutput() override;
  int Send(uint8_t* const* packets, const uint32_t* lengths, int count) override;

 private:
  explicit PacketSocketOutput(int fd) : fd_(fd) {}
  int fd_;
  sockaddr_storage link_{};
};

// A token bucket: `rate` tokens per second, at most `burst` banked. Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double burst, int64_t now_ns);
  // Takes up to `want` whole tokens; returns how many.
  uint64_t Take(int64_t now_ns, uint64_t want);
  // Time from `now_ns` until `n` whole tokens are available (0 if they are).
  int64_t NanosUntil(int64_t now_ns, uint64_t n) const;

 private:
  void Refill(int64_t now_ns);
  double rate_per_ns_;
  double burst_;
  double tokens_ = 0;
  int64_t last_ns_;
};

// Sends SYNs from `tmpl` through `out` until `stop` or the monotonic clock reaches `end_ns`,
// at `rate_pps` (0: as fast as the output takes them), in batches of up to kBatch.
// Adds packets taken by the kernel to `sent` and failed sends to `errors` as it goes.
struct SynSenderOptions {
  static constexpr int kBatch = 64;
  double rate_pps = 0;
  int64_t end_ns = 0;
  uint64_t seed = 1;
};
void RunSynSender(const SynPacketTemplate& tmpl, PacketOutput* out, Clock* clock,
                  const SynSenderOptions& options, const std::atomic<bool>& stop,
                  std::atomic<uint64_t>* sent, std::atomic<uint64_t>* errors);

// Opens the output a flood spec asks for (packet socket if it names an interface).
absl::StatusOr<std::unique_ptr<PacketOutput>> OpenPacketOutput(const FloodSpec& flood);

}  // namespace rcbench::loadgen
