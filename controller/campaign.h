#pragma once

// Campaigns: every run belongs to one. A campaign is the runs of one experiment on one kernel
// identity (every host's kernel release and build version) with one set of run-time tags, so
// that booting another kernel, or tagging a run differently, starts a new campaign by itself,
// while a resume on the same kernel with the same tags continues the one it left. `--campaign
// NAME` names one explicitly; resuming it on hosts whose kernel identity differs from the one
// it recorded is refused (both are named) unless the user allows it.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "controller/store.h"
#include "rcbench/v1/agent.pb.h"

namespace rcbench::controller {

// "HOST=RELEASE VERSION; ..." sorted by host: what decides whether two runs share a kernel.
std::string KernelIdentity(const std::map<std::string, rcbench::v1::HostFacts>& facts);

// The default campaign's name: the hosts' kernel release(s), the tags, and a hash of the
// whole identity and the tags ("6.1.0-18-amd64+kernel=b@3fa2b1c9").
std::string DefaultCampaignName(const std::map<std::string, rcbench::v1::HostFacts>& facts,
                                const std::map<std::string, std::string>& tags);

// INVALID_ARGUMENT unless 1..128 characters of [A-Za-z0-9._:+=@-].
absl::Status ValidateCampaignName(const std::string& name);

struct CampaignChoice {
  CampaignRecord record;
  bool created = false;
};

// The campaign these runs go into: `name` or, when empty, the default one; recorded in the
// store when new. FAILED_PRECONDITION naming both identities when the campaign exists with
// another kernel identity and `allow_kernel_change` is false.
absl::StatusOr<CampaignChoice> ResolveCampaign(
    ResultStore& store, const std::string& experiment, const std::string& name,
    const std::map<std::string, rcbench::v1::HostFacts>& facts,
    const std::map<std::string, std::string>& tags, bool allow_kernel_change);

}  // namespace rcbench::controller
