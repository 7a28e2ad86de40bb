#pragma once

// Conversions between rc/ types and the rcbench.v1 protos (agent.proto, common.proto), for the
// agent and anyone else at an RPC edge. Library rcbench::rc_proto (so rcbench::rc itself does
// not depend on the generated code). Pure functions; thread-safe.

#include "rc/attributes.h"
#include "rc/host_layout.h"
#include "rcbench/v1/agent.pb.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::rc {

// Unset proto fields stay unset, and vice versa.
Attributes FromProto(const rcbench::v1::ContainerAttributes& proto);
rcbench::v1::ContainerAttributes ToProto(const Attributes& attributes);

// Fills the counters of `out` that Usage has (CPU, memory, pids, io, PSI, `available`); leaves
// id, time and sockets to the caller. Appends to `available`.
void FillUsage(const Usage& usage, rcbench::v1::ContainerUsage* out);

rcbench::v1::CgroupMode ToProto(CgroupMode mode);

}  // namespace rcbench::rc
