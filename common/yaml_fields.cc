#include "common/yaml_fields.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/flags.h"
#include "common/status_macros.h"

namespace rcbench::yaml {

std::string Where(absl::string_view origin, int line, int column) {
  return absl::StrCat(origin, ":", line, ":", column);
}

std::string Where(absl::string_view origin, const YAML::Node& node) {
  // An absent key's node has no mark (and a zombie node's Mark() throws).
  if (!node.IsDefined() || node.Mark().is_null()) return Where(origin, 1, 1);
  return Where(origin, node.Mark().line + 1, node.Mark().column + 1);
}

absl::Status Error(absl::string_view origin, const YAML::Node& node, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(Where(origin, node), ": ", message));
}

absl::Status Bad(absl::string_view origin, const YAML::Node& node, absl::string_view key,
                 absl::string_view why) {
  return Error(origin, node, absl::StrCat(key, ": ", why));
}

absl::StatusOr<YAML::Node> Load(absl::string_view text, absl::string_view origin) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(origin, e.mark.line + 1, e.mark.column + 1),
                     ": YAML syntax error: ", e.msg, "; expected well-formed YAML"));
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what,
                                     uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  // Read at most one byte past the limit, so that a huge file (or /dev/zero) is refused unread.
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(path, 1, 1), ": the ", what, " is larger than the limit of ", max_bytes, " bytes"));
  }
  return text;
}

absl::Status CheckKeys(absl::string_view origin, const YAML::Node& map, absl::string_view what,
                       const std::set<std::string>& allowed) {
  if (!map.IsMap()) return Bad(origin, map, what, "expected a mapping");
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key)) {
      return Bad(origin, kv.first, key,
                 absl::StrCat("unknown key in ", what, "; expected one of ",
                              absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckList(absl::string_view origin, const YAML::Node& n, absl::string_view key,
                       size_t max) {
  if (n.IsNull()) return absl::OkStatus();
  if (!n.IsSequence()) return Bad(origin, n, key, "expected a list");
  if (n.size() > max) {
    return Bad(origin, n, key, absl::StrCat(n.size(), " entries exceed the maximum of ", max));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Scalar(absl::string_view origin, const YAML::Node& n,
                                   absl::string_view key) {
  if (!n.IsScalar()) return Bad(origin, n, key, "expected a string");
  return n.Scalar();
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

absl::StatusOr<uint64_t> Uint(absl::string_view origin, const YAML::Node& n, absl::string_view key,
                              uint64_t min, uint64_t max) {
  uint64_t v = 0;
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v) || v < min || v > max) {
    return Bad(origin, n, key, absl::StrCat("expected an integer in [", min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<double> Double(absl::string_view origin, const YAML::Node& n, absl::string_view key,
                              double min, double max) {
  double v = 0;
  if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !std::isfinite(v) || v < min ||
      v > max) {
    return Bad(origin, n, key, absl::StrCat("expected a number in [", min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<std::chrono::nanoseconds> Duration(absl::string_view origin, const YAML::Node& n,
                                                  absl::string_view key) {
  RCBENCH_ASSIGN_OR_RETURN(std::string text, Scalar(origin, n, key));
  auto d = ParseDuration(text);
  if (!d.ok()) return Bad(origin, n, key, d.status().message());
  return *d;
}

absl::StatusOr<uint64_t> Size(absl::string_view origin, const YAML::Node& n,
                              absl::string_view key) {
  RCBENCH_ASSIGN_OR_RETURN(std::string text, Scalar(origin, n, key));
  auto s = ParseSize(text);
  if (!s.ok()) return Bad(origin, n, key, s.status().message());
  return *s;
}

}  // namespace rcbench::yaml
