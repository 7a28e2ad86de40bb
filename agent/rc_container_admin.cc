#include "agent/rc_container_admin.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rc/proto_convert.h"

namespace rcbench::agent {

RcContainerAdmin::RcContainerAdmin(std::unique_ptr<rc::ContainerSystem> system, std::string host)
    : system_(std::move(system)), host_(std::move(host)) {}

RcContainerAdmin::~RcContainerAdmin() { system_->RemoveRootIfEmpty(); }

rcbench::v1::ContainerInfo RcContainerAdmin::Info(const rc::Container& c) const {
  rcbench::v1::ContainerInfo info;
  info.mutable_id()->set_host(host_);
  info.mutable_id()->set_path(c.path());
  info.mutable_id()->set_cgroup_id(c.cgroup_id());
  auto attributes = c.GetAttributes();
  if (attributes.ok()) *info.mutable_attributes() = rc::ToProto(*attributes);
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
  RCBENCH_ASSIGN_OR_RETURN(rc::Container c, system_->Create(path, rc::FromProto(attributes), o));
  return Info(c);
}

absl::StatusOr<rcbench::v1::ContainerInfo> RcContainerAdmin::Update(
    absl::string_view path, const rcbench::v1::ContainerAttributes& attributes) {
  RCBENCH_ASSIGN_OR_RETURN(rc::Container c, system_->OpenContainer(path));
  RCBENCH_RETURN_IF_ERROR(c.SetAttributes(rc::FromProto(attributes)));
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
