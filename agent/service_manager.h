#pragma once

// Starts, stops and reports on the named services declared in the agent's config, each in a
// container. Nothing else can be started: the command line is the declaration's, plus extra
// arguments that each match one of its allowed patterns. Children get PR_SET_PDEATHSIG
// (SIGTERM), their own process group, an empty signal mask and default dispositions (the
// agent blocks SIGTERM/SIGINT for sigwait; a child must not inherit that), stdin from
// /dev/null, and stdout/stderr in a log file under the state directory (the tail is reported).
// Each start's owner (StartServiceRequest.owner) is kept with the service; with a Journal,
// running services (pid, start time, process group, owner, container) and the containers a
// start created are recorded in it, so a later agent can clean up if this one is killed.
// Thread-safe.
//
// Errors: NOT_FOUND (undeclared service), PERMISSION_DENIED (argument not allowed),
// INVALID_ARGUMENT (bad container path or attributes, too many or too long arguments: see
// ValidateStartServiceRequest), ALREADY_EXISTS (already running),
// DEADLINE_EXCEEDED (not ready in time: it is stopped), and fork/exec/container errors.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config.h"
#include "agent/container_admin.h"
#include "agent/journal.h"
#include "rcbench/v1/agent.pb.h"

namespace rcbench::agent {

class ServiceManager {
 public:
  // `admin` must outlive this (null: Start fails with FAILED_PRECONDITION). `state_dir` holds logs
  // and ready files (created if missing). `journal` (may be null) must outlive this.
  ServiceManager(std::map<std::string, ServiceSpec> specs, ContainerAdmin* admin,
                 std::string state_dir, std::string host, ServiceLimits limits = {},
                 Journal* journal = nullptr);
  // Stops every running service (SIGTERM, then SIGKILL after 2 s).
  ~ServiceManager();

  absl::StatusOr<rcbench::v1::ServiceStatus> Start(const rcbench::v1::StartServiceRequest& req);
  absl::StatusOr<rcbench::v1::ServiceStatus> Stop(absl::string_view name,
                                                  std::chrono::nanoseconds grace);
  absl::StatusOr<rcbench::v1::ServiceStatus> Status(absl::string_view name);
  void StopAll(std::chrono::nanoseconds grace);
  // Stops every starting or running service whose latest start had `owner`; returns their
  // names.
  std::vector<std::string> StopOwnedBy(absl::string_view owner, std::chrono::nanoseconds grace);

 private:
  struct Running;
  // NOT_FOUND unless `name` is a service of the agent config.
  absl::Status CheckDeclared(absl::string_view name) const;
  rcbench::v1::ServiceStatus StatusLocked(const std::string& name, Running* r);
  void Reap(std::shared_ptr<Running> r);

  const std::map<std::string, ServiceSpec> specs_;
  ContainerAdmin* const admin_;
  const std::string state_dir_;
  const std::string host_;
  const ServiceLimits limits_;
  Journal* const journal_;
  std::mutex mu_;
  std::condition_variable exited_;
  std::map<std::string, std::shared_ptr<Running>> running_;
};

}  // namespace rcbench::agent
