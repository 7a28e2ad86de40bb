#include "controller/template.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace rcbench::controller {
namespace {

// Calls `on_text` for literal pieces and `on_name` for placeholders.
template <typename OnText, typename OnName>
absl::Status Scan(absl::string_view text, OnText on_text, OnName on_name) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == absl::string_view::npos) {
      on_text(text.substr(pos));
      break;
    }
    on_text(text.substr(pos, open - pos));
    size_t close = text.find("}}", open + 2);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unterminated placeholder in \"", text, "\"; expected \"}}\""));
    }
    absl::string_view name = absl::StripAsciiWhitespace(text.substr(open + 2, close - open - 2));
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty placeholder in \"", text, "\"; expected {{factor_name}}"));
    }
    absl::Status status = on_name(name);
    if (!status.ok()) return status;
    pos = close + 2;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> Placeholders(absl::string_view text) {
  std::vector<std::string> names;
  absl::Status status = Scan(
      text, [](absl::string_view) {},
      [&](absl::string_view name) {
        names.emplace_back(name);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return names;
}

absl::StatusOr<std::string> RenderTemplate(absl::string_view text, const TemplateVars& vars) {
  std::string out;
  absl::Status status = Scan(
      text, [&](absl::string_view piece) { out.append(piece.data(), piece.size()); },
      [&](absl::string_view name) {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("unknown placeholder {{", name,
                           "}}; expected a factor name or one of "
                           "server.http, server.http.CLASS, server.address, run.repetition, "
                           "run.id"));
        }
        out += it->second;
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return out;
}

}  // namespace rcbench::controller
