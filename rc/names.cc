#include "rc/names.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rcbench::rc {
namespace {

// Prefixes of kernel control files; a container with such a name would shadow them.
constexpr absl::string_view kReservedPrefixes[] = {"cgroup.",
                                                   "cpu.",
                                                   "cpuacct.",
                                                   "cpuset.",
                                                   "memory.",
                                                   "pids.",
                                                   "io.",
                                                   "blkio.",
                                                   "rdma.",
                                                   "hugetlb.",
                                                   "misc.",
                                                   "net_cls.",
                                                   "net_prio.",
                                                   "devices.",
                                                   "freezer.",
                                                   "perf_event.",
                                                   "notify_on_release",
                                                   "release_agent",
                                                   "tasks"};

std::string Printable(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace

absl::Status ValidateName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("container name is empty");
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("container name '",
                                                   Printable(name.substr(0, 80)),
                                                   "' is longer than ", kMaxNameLength, " bytes"));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("container name '", name, "' is not allowed"));
  }
  for (unsigned char c : name) {
    if (c == '/' || c < 0x20 || c == 0x7f || c == ' ') {
      return absl::InvalidArgumentError(
          absl::StrCat("container name '", Printable(name),
                       "' contains '/', whitespace, NUL or a control character"));
    }
  }
  for (absl::string_view prefix : kReservedPrefixes) {
    if (absl::StartsWith(name, prefix)) {
      return absl::InvalidArgumentError(absl::StrCat("container name '", name, "' starts with '",
                                                     prefix, "', which cgroupfs reserves"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> SplitPath(absl::string_view path) {
  std::vector<std::string> parts;
  if (path.empty()) return parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    absl::Status s = ValidateName(part);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("container path '", Printable(path), "': ", s.message()));
    }
    parts.emplace_back(part);
  }
  if (parts.size() > kMaxPathDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("container path '", Printable(path), "' is deeper than ", kMaxPathDepth));
  }
  return parts;
}

absl::Status ValidatePath(absl::string_view path) { return SplitPath(path).status(); }

std::string JoinPath(absl::string_view parent, absl::string_view name) {
  if (parent.empty()) return std::string(name);
  if (name.empty()) return std::string(parent);
  return absl::StrCat(parent, "/", name);
}

std::string ParentPath(absl::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return "";
  return std::string(path.substr(0, slash));
}

std::string BaseName(absl::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return std::string(path);
  return std::string(path.substr(slash + 1));
}

bool IsSameOrBelow(absl::string_view path, absl::string_view ancestor) {
  if (ancestor.empty()) return true;
  if (!absl::StartsWith(path, ancestor)) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

}  // namespace rcbench::rc
