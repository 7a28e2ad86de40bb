#pragma once

// The modern form of the paper's low-priority listen socket with a source-address filter: a
// classic BPF socket filter on a listener that drops packets (so their SYNs) from untrusted
// prefixes before the kernel creates any request socket for them. Drops show up in the
// listener's SO_MEMINFO drop counter. XDP on the interface would drop even earlier (see
// server/README.md).

#include <linux/filter.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/cidr.h"

namespace rcbench::server {

// The filter program: accept (return all bytes) unless the IPv4/IPv6 source lies in `drop`.
// INVALID_ARGUMENT if there are too many prefixes for classic BPF's 8-bit jumps (> 40).
absl::StatusOr<std::vector<sock_filter>> BuildSynFilterProgram(const std::vector<Cidr>& drop);

// Attaches the program to listening socket `fd` (SO_ATTACH_FILTER; needs no privilege).
absl::Status AttachSynFilter(int fd, const std::vector<Cidr>& drop);

}  // namespace rcbench::server
