#pragma once

// Parsing of human-friendly flag values: durations ("500ms", "10s", "1m30s"), sizes
// ("1KiB", "64MB", "4096"), percentages ("30%") and host:port pairs.

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench {

// Accepts one or more <number><unit> terms, unit one of ns, us, µs, ms, s, m, h; the number
// may have a fraction ("1.5s"). A bare "0" is zero. Errors (INVALID_ARGUMENT) quote the input
// and say what was expected.
absl::StatusOr<std::chrono::nanoseconds> ParseDuration(absl::string_view text);

// Formats a duration compactly and exactly where possible ("1.5s", "250ms", "0s").
std::string FormatDuration(std::chrono::nanoseconds d);

// Accepts <number>[unit], unit one of B, K/KB (1000), KiB (1024), M/MB, MiB, G/GB, GiB,
// T/TB, TiB (case-insensitive). Returns bytes; rejects overflow and fractions of a byte.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// "30%" -> 0.30, "0.3" -> 0.3 (a bare number is a fraction); must lie in [0, max].
absl::StatusOr<double> ParseFraction(absl::string_view text, double max = 1.0);

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};

// "127.0.0.1:8080", "[::1]:80", "localhost:0". Port 0 is allowed (ephemeral).
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

}  // namespace rcbench
