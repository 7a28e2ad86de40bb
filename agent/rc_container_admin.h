#pragma once

// ContainerAdmin through rc/'s Container API (rcbench::rc::ContainerSystem): the agent's RPCs
// create, update, delete and list the same containers the reference server and rc users do,
// with rc's validation and its v1/v2 backends. Thread-safe (rc's ContainerSystem is).

#include <memory>
#include <string>

#include "agent/container_admin.h"
#include "rc/container.h"

namespace rcbench::agent {

class RcContainerAdmin : public ContainerAdmin {
 public:
  // `system` is owned; `host` fills ContainerId.host.
  RcContainerAdmin(std::unique_ptr<rc::ContainerSystem> system, std::string host);
  // Removes the root subtree in every managed hierarchy if it is empty, so an agent that
  // created it on demand leaves the host as it found it.
  ~RcContainerAdmin() override;

  absl::StatusOr<rcbench::v1::ContainerInfo> Create(
      absl::string_view path, const rcbench::v1::ContainerAttributes& attributes,
      bool exist_ok) override;
  absl::StatusOr<rcbench::v1::ContainerInfo> Update(
      absl::string_view path, const rcbench::v1::ContainerAttributes& attributes) override;
  absl::Status Delete(absl::string_view path, bool recursive) override;
  absl::StatusOr<std::vector<rcbench::v1::ContainerInfo>> List(absl::string_view prefix) override;
  absl::Status AddProcess(absl::string_view path, pid_t pid) override;
  bool Exists(absl::string_view path) override;

  rc::ContainerSystem& system() { return *system_; }

 private:
  rcbench::v1::ContainerInfo Info(const rc::Container& c) const;

  std::unique_ptr<rc::ContainerSystem> system_;
  std::string host_;
};

}  // namespace rcbench::agent
