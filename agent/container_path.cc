#include "agent/container_path.h"

#include "absl/strings/str_cat.h"
#include "rc/names.h"

namespace rcbench::agent {

absl::Status ValidateContainerPath(absl::string_view path, bool allow_empty) {
  if (path.empty() && !allow_empty) {
    return absl::InvalidArgumentError("container path is empty (the root subtree itself)");
  }
  if (path.size() > kMaxContainerPathLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("container path is longer than ", kMaxContainerPathLength, " bytes"));
  }
  return rc::ValidatePath(path);
}

}  // namespace rcbench::agent
