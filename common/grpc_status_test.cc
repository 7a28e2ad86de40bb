#include "common/grpc_status.h"

#include <gtest/gtest.h>

namespace rcbench {
namespace {

TEST(GrpcStatusTest, CodesAndMessagesSurviveTheRoundTrip) {
  for (auto code : {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
                    absl::StatusCode::kPermissionDenied, absl::StatusCode::kUnavailable,
                    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kDataLoss}) {
    absl::Status s(code, "what went wrong");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "what went wrong");
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
}

TEST(GrpcStatusTest, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace rcbench
