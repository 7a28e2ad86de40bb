#include "agent/rc_container_admin.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace rcbench::agent {

rc::Attributes ToRcAttributes(const rcbench::v1::ContainerAttributes& a) {
  rc::Attributes r;
  if (a.has_cpu_weight()) r.cpu_weight = a.cpu_weight();
  if (a.has_cpu_limit_cores()) r.cpu_limit_cores = a.cpu_limit_cores();
  if (a.has_cpu_period_us()) r.cpu_period_us = a.cpu_period_us();
  if (a.has_memory_limit_bytes()) r.memory_limit_bytes = a.memory_limit_bytes();
  if (a.has_pids_limit()) r.pids_limit = a.pids_limit();
  return r;
}

rcbench::v1::ContainerAttributes FromRcAttributes(const rc::Attributes& a) {
  rcbench::v1::ContainerAttributes r;
  if (a.cpu_weight) r.set_cpu_weight(*a.cpu_weight);
  if (a.cpu_limit_cores) r.set_cpu_limit_cores(*a.cpu_limit_cores);
  if (a.cpu_period_us) r.set_cpu_period_us(*a.cpu_period_us);
  if (a.memory_limit_bytes) r.set_memory_limit_bytes(*a.memory_limit_bytes);
  if (a.pids_limit) r.set_pids_limit(*a.pids_limit);
  return r;
}

RcContainerAdmin::RcContainerAdmin(std::unique_ptr<rc::ContainerSystem> system, std::string host)
    : system_(std::move(system)), host_(std::move(host)) {}

RcContainerAdmin::~RcContainerAdmin() { system_->RemoveRootIfEmpty(); }

rcbench::v1::ContainerInfo RcContainerAdmin::Info(const rc::Container& c) const {
  rcbench::v1::ContainerInfo info;
  info.mutable_id()->set_host(host_);
  info.mutable_id()->set_path(c.path());
  info.mutable_id()->set_cgroup_id(c.cgroup_id());
  auto attributes = c.GetAttributes();
  if (attributes.ok()) *info.mutable_attributes() = FromRcAttributes(*attributes);
  auto pids = c.Processes();
  if (pids.ok()) {
    for (pid_t pid : *pids) info.add_pids(pid);
  }
  return info;
}

absl::StatusOr<rcbench::v1::ContainerInfo> RcContainerAdmin::Create(
    absl::string_view path, const rcbench::v1::ContainerAttributes& attributes, bool exist_ok) {
  rc::CreateOptions o;
  o.exist_ok = exist_ok;
  o.create_parents = true;  // the contract creates missing parents
  RCBENCH_ASSIGN_OR_RETURN(rc::Container c, system_->Create(path, ToRcAttributes(attributes), o));
  return Info(c);
}

absl::StatusOr<rcbench::v1::ContainerInfo> RcContainerAdmin::Update(
    absl::string_view path, const rcbench::v1::ContainerAttributes& attributes) {
  RCBENCH_ASSIGN_OR_RETURN(rc::Container c, system_->OpenContainer(path));
  RCBENCH_RETURN_IF_ERROR(c.SetAttributes(ToRcAttributes(attributes)));
  return Info(c);
}

absl::Status RcContainerAdmin::Delete(absl::string_view path, bool recursive) {
  return system_->Destroy(path, recursive);
}

absl::StatusOr<std::vector<rcbench::v1::ContainerInfo>> RcContainerAdmin::List(
    absl::string_view prefix) {
  std::vector<std::string> paths;
  if (!prefix.empty()) {
    if (!system_->Exists(prefix)) return std::vector<rcbench::v1::ContainerInfo>();
    paths.emplace_back(prefix);
  }
  RCBENCH_ASSIGN_OR_RETURN(std::vector<std::string> below, system_->List(prefix));
  paths.insert(paths.end(), below.begin(), below.end());
  std::vector<rcbench::v1::ContainerInfo> out;
  for (const std::string& p : paths) {
    auto c = system_->OpenContainer(p);
    if (c.ok()) out.push_back(Info(*c));  // removed meanwhile: skip
  }
  return out;
}

absl::Status RcContainerAdmin::AddProcess(absl::string_view path, pid_t pid) {
  RCBENCH_ASSIGN_OR_RETURN(rc::Container c, system_->OpenContainer(path));
  return c.BindProcess(pid);
}

bool RcContainerAdmin::Exists(absl::string_view path) { return system_->Exists(path); }

}  // namespace rcbench::agent
