#include "agent/container_path.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rcbench::agent {

absl::Status ValidateContainerPath(absl::string_view path, bool allow_empty) {
  auto bad = [&](absl::string_view why) {
    std::string shown;
    for (char c : path.substr(0, 80)) {
      shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("container path '", shown, "' is invalid: ", why));
  };
  if (path.empty()) {
    return allow_empty ? absl::OkStatus() : bad("empty (the root subtree itself)");
  }
  if (path.size() > kMaxContainerPathLength) return bad("too long");
  if (path.front() == '/') return bad("must be relative to the root subtree (leading '/')");
  int depth = 0;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (++depth > kMaxContainerDepth) return bad("too deep");
    if (part.empty()) return bad("empty component");
    if (part == "." || part == "..") return bad("'.' and '..' are not allowed");
    if (part.size() > kMaxContainerComponentLength) return bad("component too long");
    for (char c : part) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return bad("control character or NUL");
    }
  }
  return absl::OkStatus();
}

}  // namespace rcbench::agent
