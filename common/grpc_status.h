#pragma once

// Conversions between absl::Status (used inside libraries) and grpc::Status (at the RPC edge).
// Codes map one to one; messages are kept.

#include <grpcpp/support/status.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rcbench {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// An RPC handler's ending for a library call that produces the whole response: OK with the
// value moved into `*response`, or the error (ToGrpcStatus) with `*response` untouched.
template <typename T>
grpc::Status ToGrpcReply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace rcbench
