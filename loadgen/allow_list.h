#pragma once

// The load generator's target allow-list: every HTTP target and SYN-flood target must lie in
// one of its prefixes before anything is sent. It starts as loopback only (127.0.0.0/8, ::1);
// only the generator's own command line (--allow-target) or config file can add prefixes —
// never the gRPC API. Value type; thread-compatible (built at start-up, then read-only).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/cidr.h"

namespace rcbench::loadgen {

class AllowList {
 public:
  // Loopback only.
  AllowList();

  void Add(const Cidr& prefix) { prefixes_.push_back(prefix); }
  // Parses and adds; INVALID_ARGUMENT naming the text on a bad prefix.
  absl::Status Add(absl::string_view prefix_text);

  // OK if `addr` is inside a prefix; otherwise PERMISSION_DENIED naming `what`, the address
  // and the allowed prefixes, and how to allow more.
  absl::Status Check(const IpAddress& addr, absl::string_view what) const;

  const std::vector<Cidr>& prefixes() const { return prefixes_; }
  std::string ToString() const;

 private:
  std::vector<Cidr> prefixes_;
};

}  // namespace rcbench::loadgen
