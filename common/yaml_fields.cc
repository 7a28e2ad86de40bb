#include "common/yaml_fields.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace rcbench::yaml {

absl::Status Bad(absl::string_view origin, const YAML::Node& node, absl::string_view key,
                 absl::string_view why) {
  std::string where(origin);
  if (node.Mark().line >= 0) absl::StrAppend(&where, ":", node.Mark().line + 1);
  return absl::InvalidArgumentError(absl::StrCat(where, ": '", key, "': ", why));
}

absl::Status CheckKeys(absl::string_view origin, const YAML::Node& map, absl::string_view what,
                       const std::set<std::string>& allowed) {
  if (!map.IsMap()) return Bad(origin, map, what, "expected a mapping");
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      return Bad(origin, kv.first, key,
                 absl::StrCat("unknown key in ", what, "; expected one of ",
                              absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Scalar(absl::string_view origin, const YAML::Node& n,
                                   absl::string_view key) {
  if (!n.IsScalar()) return Bad(origin, n, key, "expected a string");
  return n.as<std::string>();
}

absl::StatusOr<std::vector<std::string>> StringList(absl::string_view origin, const YAML::Node& n,
                                                    absl::string_view key) {
  if (!n.IsSequence()) return Bad(origin, n, key, "expected a list of strings");
  std::vector<std::string> out;
  for (const auto& e : n) {
    RCBENCH_ASSIGN_OR_RETURN(std::string s, Scalar(origin, e, key));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<bool> Bool(absl::string_view origin, const YAML::Node& n, absl::string_view key) {
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) {
    return Bad(origin, n, key, "expected true or false");
  }
  return b;
}

}  // namespace rcbench::yaml
