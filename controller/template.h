#pragma once

// Per-run templating: "{{name}}" placeholders in spec strings are replaced by the run's
// factor levels and by facts known only at run time ("server.http", "run.repetition", ...).

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::controller {

using TemplateVars = std::map<std::string, std::string>;

// The placeholder names in `text`, in order of appearance (may repeat). INVALID_ARGUMENT on an
// unterminated "{{" or an empty name.
absl::StatusOr<std::vector<std::string>> Placeholders(absl::string_view text);

// Replaces every placeholder by its value. INVALID_ARGUMENT naming the first unknown variable.
absl::StatusOr<std::string> RenderTemplate(absl::string_view text, const TemplateVars& vars);

}  // namespace rcbench::controller
