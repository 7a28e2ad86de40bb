#pragma once

// Conversions between absl::Status (used inside libraries) and grpc::Status (at the RPC edge).
// Codes map one to one; messages are kept.

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace rcbench {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace rcbench
