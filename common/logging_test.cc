#include "common/logging.h"

#include <gtest/gtest.h>

namespace rcbench {
namespace {

TEST(LoggingTest, ParsesLevelsCaseInsensitively) {
  EXPECT_EQ(*ParseLogLevel("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("loud").ok());
}

TEST(LoggingTest, MessagesBelowThresholdAreNotEvaluated) {
  SetLogLevel(LogLevel::kWarning);
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  RCBENCH_LOG(INFO) << count();
  EXPECT_EQ(evaluated, 0);
  testing::internal::CaptureStderr();
  RCBENCH_LOG(ERROR) << "visible " << count();
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluated, 1);
  EXPECT_NE(out.find("visible 1"), std::string::npos);
  EXPECT_NE(out.find("logging_test.cc:"), std::string::npos);
  SetLogLevel(LogLevel::kInfo);
}

}  // namespace
}  // namespace rcbench
