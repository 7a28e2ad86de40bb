#include "controller/campaign.h"

#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "controller/matrix.h"

namespace rcbench::controller {
namespace {

bool NameChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '+' || c == '=' ||
         c == '@' || c == '-';
}

std::string Clean(absl::string_view s) {
  std::string out;
  for (char c : s) out.push_back(NameChar(c) ? c : '_');
  return out;
}

}  // namespace

std::string KernelIdentity(const std::map<std::string, rcbench::v1::HostFacts>& facts) {
  std::vector<std::string> parts;
  for (const auto& [host, f] : facts) {
    parts.push_back(absl::StrCat(host, "=", f.kernel_release(),
                                 f.kernel_version().empty() ? "" : " ", f.kernel_version()));
  }
  return absl::StrJoin(parts, "; ");
}

std::string DefaultCampaignName(const std::map<std::string, rcbench::v1::HostFacts>& facts,
                                const std::map<std::string, std::string>& tags) {
  std::set<std::string> releases;
  for (const auto& [host, f] : facts) releases.insert(Clean(f.kernel_release()));
  std::string name = releases.empty() ? "unknown-kernel" : absl::StrJoin(releases, ",");
  uint64_t h = Fnv1a(KernelIdentity(facts));
  for (const auto& [k, v] : tags) {
    absl::StrAppend(&name, "+", Clean(k), "=", Clean(v));
    h = Fnv1a(absl::StrCat("\x1f", k, "=", v), h);
  }
  if (name.size() > 110) name.resize(110);
  return absl::StrFormat("%s@%08x", name, static_cast<uint32_t>(h ^ (h >> 32)));
}

absl::Status ValidateCampaignName(const std::string& name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("campaign name \"", name, "\": expected 1 to 128 characters"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!NameChar(name[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("campaign name \"", name, "\": character ", i + 1,
                       " is not allowed; expected letters, digits and . _ : + = @ -"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CampaignChoice> ResolveCampaign(
    ResultStore& store, const std::string& experiment, const std::string& name,
    const std::map<std::string, rcbench::v1::HostFacts>& facts,
    const std::map<std::string, std::string>& tags, bool allow_kernel_change) {
  CampaignChoice choice;
  choice.record.experiment = experiment;
  choice.record.name = name.empty() ? DefaultCampaignName(facts, tags) : name;
  choice.record.kernel_identity = KernelIdentity(facts);
  choice.record.tags = tags;
  RCBENCH_RETURN_IF_ERROR(ValidateCampaignName(choice.record.name));
  RCBENCH_ASSIGN_OR_RETURN(auto stored, store.GetCampaign(experiment, choice.record.name));
  if (stored) {
    if (stored->kernel_identity != choice.record.kernel_identity && !allow_kernel_change) {
      return absl::FailedPreconditionError(absl::StrCat(
          "campaign ", stored->name, " of experiment ", experiment, " was recorded on kernel \"",
          stored->kernel_identity.empty() ? "(unknown: stored before campaigns)"
                                          : stored->kernel_identity,
          "\", but the hosts now run \"", choice.record.kernel_identity,
          "\"; its runs would mix two kernels. Start another campaign (--campaign NAME, or "
          "none for the default one of this kernel), or pass --allow-kernel-change to add "
          "these runs to it anyway"));
    }
    choice.record = *stored;
    return choice;
  }
  choice.record.created_at = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
  RCBENCH_RETURN_IF_ERROR(store.AddCampaign(choice.record));
  choice.created = true;
  return choice;
}

}  // namespace rcbench::controller
