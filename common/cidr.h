#pragma once

// An IPv4 or IPv6 prefix ("127.0.0.0/8", "::1/128", "10.99.0.0/16") and membership tests.
// Used for the load generator's target allow-list, server class and SYN-filter prefixes,
// and spoofed-source ranges. Value type; thread-compatible.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench {

// A parsed IP address (v4 or v6), network byte order.
struct IpAddress {
  int family = AF_UNSPEC;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  static absl::StatusOr<IpAddress> Parse(absl::string_view text);
  static IpAddress FromSockaddr(const sockaddr* sa);
  std::string ToString() const;
  size_t size() const { return family == AF_INET ? 4 : 16; }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

class Cidr {
 public:
  // "ADDR/LEN" or a bare address (a host prefix). INVALID_ARGUMENT on bad input, including
  // host bits set beyond the prefix ("10.0.0.1/8").
  static absl::StatusOr<Cidr> Parse(absl::string_view text);

  bool Contains(const IpAddress& addr) const;
  int family() const { return network_.family; }
  int prefix_len() const { return prefix_len_; }
  const IpAddress& network() const { return network_; }
  std::string ToString() const;

 private:
  IpAddress network_;
  int prefix_len_ = 0;
};

// Parses a comma-separated list of prefixes.
absl::StatusOr<std::vector<Cidr>> ParseCidrList(absl::string_view text);

// True if any prefix in `list` contains `addr`.
bool AnyContains(const std::vector<Cidr>& list, const IpAddress& addr);

}  // namespace rcbench
