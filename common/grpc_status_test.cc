#include "common/grpc_status.h"

#include <gtest/gtest.h>

#include <string>

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

TEST(GrpcStatusTest, ReplyMovesTheValueIntoTheResponse) {
  std::string response;
  EXPECT_TRUE(ToGrpcReply(absl::StatusOr<std::string>("the value"), &response).ok());
  EXPECT_EQ(response, "the value");
}

TEST(GrpcStatusTest, FailedReplyKeepsTheErrorAndLeavesTheResponse) {
  std::string response = "untouched";
  grpc::Status g =
      ToGrpcReply(absl::StatusOr<std::string>(absl::NotFoundError("no such run")), &response);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(g.error_message(), "no such run");
  EXPECT_EQ(response, "untouched");
}

}  // namespace
}  // namespace rcbench
