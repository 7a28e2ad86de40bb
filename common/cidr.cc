#include "common/cidr.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rcbench {

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid IP address \"", text, "\": expected IPv4 (127.0.0.1) or IPv6 (::1)"));
}

IpAddress IpAddress::FromSockaddr(const sockaddr* sa) {
  IpAddress a;
  if (sa->sa_family == AF_INET) {
    a.family = AF_INET;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  }
  return a;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "?";
  inet_ntop(family, bytes.data(), buf, sizeof(buf));
  return buf;
}

absl::StatusOr<Cidr> Cidr::Parse(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t slash = s.find('/');
  auto addr = IpAddress::Parse(s.substr(0, slash));
  if (!addr.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid prefix \"", text, "\": expected ADDR/LEN, e.g. 127.0.0.0/8 or ::1/128"));
  }
  int max_len = addr->family == AF_INET ? 32 : 128;
  int len = max_len;
  if (slash != absl::string_view::npos &&
      (!absl::SimpleAtoi(s.substr(slash + 1), &len) || len < 0 || len > max_len)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid prefix length in \"", text, "\": expected 0..", max_len));
  }
  Cidr c;
  c.network_ = *addr;
  c.prefix_len_ = len;
  // Reject host bits beyond the prefix: "10.0.0.1/8" is almost always a typo.
  for (int bit = len; bit < max_len; ++bit) {
    if (c.network_.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid prefix \"", text, "\": address has bits set beyond /", len));
    }
  }
  return c;
}

bool Cidr::Contains(const IpAddress& addr) const {
  if (addr.family != network_.family) return false;
  int full = prefix_len_ / 8;
  if (std::memcmp(addr.bytes.data(), network_.bytes.data(), full) != 0) return false;
  int rest = prefix_len_ % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (addr.bytes[full] & mask) == (network_.bytes[full] & mask);
}

std::string Cidr::ToString() const { return absl::StrCat(network_.ToString(), "/", prefix_len_); }

absl::StatusOr<std::vector<Cidr>> ParseCidrList(absl::string_view text) {
  std::vector<Cidr> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    auto c = Cidr::Parse(part);
    if (!c.ok()) return c.status();
    out.push_back(*c);
  }
  return out;
}

bool AnyContains(const std::vector<Cidr>& list, const IpAddress& addr) {
  for (const Cidr& c : list) {
    if (c.Contains(addr)) return true;
  }
  return false;
}

}  // namespace rcbench
