#include "loadgen/allow_list.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rcbench::loadgen {

AllowList::AllowList() {
  prefixes_.push_back(*Cidr::Parse("127.0.0.0/8"));
  prefixes_.push_back(*Cidr::Parse("::1/128"));
}

absl::Status AllowList::Add(absl::string_view prefix_text) {
  auto prefix = Cidr::Parse(prefix_text);
  if (!prefix.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("allow-target \"", prefix_text, "\": ", prefix.status().message()));
  }
  prefixes_.push_back(*prefix);
  return absl::OkStatus();
}

absl::Status AllowList::Check(const IpAddress& addr, absl::string_view what) const {
  if (AnyContains(prefixes_, addr)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      what, " ", addr.ToString(), " is not in the allow-list (", ToString(),
      "); nothing was sent. Add the prefix with --allow-target CIDR or the config file's "
      "allow_targets if this address is yours to load"));
}

std::string AllowList::ToString() const {
  return absl::StrJoin(prefixes_, ", ",
                       [](std::string* out, const Cidr& c) { out->append(c.ToString()); });
}

}  // namespace rcbench::loadgen
