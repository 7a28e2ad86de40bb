#include "rc/proto_convert.h"

namespace rcbench::rc {

Attributes FromProto(const rcbench::v1::ContainerAttributes& p) {
  Attributes a;
  if (p.has_cpu_weight()) a.cpu_weight = p.cpu_weight();
  if (p.has_cpu_limit_cores()) a.cpu_limit_cores = p.cpu_limit_cores();
  if (p.has_cpu_period_us()) a.cpu_period_us = p.cpu_period_us();
  if (p.has_memory_limit_bytes()) a.memory_limit_bytes = p.memory_limit_bytes();
  if (p.has_pids_limit()) a.pids_limit = p.pids_limit();
  return a;
}

rcbench::v1::ContainerAttributes ToProto(const Attributes& a) {
  rcbench::v1::ContainerAttributes p;
  if (a.cpu_weight) p.set_cpu_weight(*a.cpu_weight);
  if (a.cpu_limit_cores) p.set_cpu_limit_cores(*a.cpu_limit_cores);
  if (a.cpu_period_us) p.set_cpu_period_us(*a.cpu_period_us);
  if (a.memory_limit_bytes) p.set_memory_limit_bytes(*a.memory_limit_bytes);
  if (a.pids_limit) p.set_pids_limit(*a.pids_limit);
  return p;
}

void FillUsage(const Usage& u, rcbench::v1::ContainerUsage* out) {
  out->set_cpu_usage_ns(u.cpu_usage_ns);
  out->set_cpu_user_ns(u.cpu_user_ns);
  out->set_cpu_system_ns(u.cpu_system_ns);
  out->set_cpu_periods(u.cpu_periods);
  out->set_cpu_throttled_periods(u.cpu_throttled_periods);
  out->set_cpu_throttled_ns(u.cpu_throttled_ns);
  out->set_memory_usage_bytes(u.memory_usage_bytes);
  out->set_memory_working_set_bytes(u.memory_working_set_bytes);
  out->set_memory_peak_bytes(u.memory_peak_bytes);
  out->set_pids_current(u.pids_current);
  out->set_io_read_bytes(u.io_read_bytes);
  out->set_io_write_bytes(u.io_write_bytes);
  out->set_io_read_ops(u.io_read_ops);
  out->set_io_write_ops(u.io_write_ops);
  auto pressure = [](const std::optional<Pressure>& from, rcbench::v1::Pressure* to) {
    to->set_some_total_us(from->some_total_us);
    to->set_full_total_us(from->full_total_us);
  };
  if (u.cpu_pressure) pressure(u.cpu_pressure, out->mutable_cpu_pressure());
  if (u.memory_pressure) pressure(u.memory_pressure, out->mutable_memory_pressure());
  if (u.io_pressure) pressure(u.io_pressure, out->mutable_io_pressure());
  for (const std::string& group : u.available) out->add_available(group);
}

rcbench::v1::CgroupMode ToProto(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kV1:
      return rcbench::v1::CGROUP_MODE_V1;
    case CgroupMode::kV2:
      return rcbench::v1::CGROUP_MODE_V2;
    case CgroupMode::kHybrid:
      return rcbench::v1::CGROUP_MODE_HYBRID;
  }
  return rcbench::v1::CGROUP_MODE_UNSPECIFIED;
}

}  // namespace rcbench::rc
