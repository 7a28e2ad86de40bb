#include "server/log_limiter.h"

#include <gtest/gtest.h>

namespace rcbench::server {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(LogLimiterTest, FirstOccurrenceIsLoggedWithNothingSuppressed) {
  LogLimiter limiter;
  uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.Allow(5 * kMs, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogLimiterTest, RepeatsWithinTheIntervalAreHeldBackAndCountedInTheNextLine) {
  LogLimiter limiter(std::chrono::seconds(1));
  uint64_t suppressed = 0;
  ASSERT_TRUE(limiter.Allow(0, &suppressed));
  for (int i = 1; i <= 1000; ++i) EXPECT_FALSE(limiter.Allow(i * kMs / 2, &suppressed));
  ASSERT_TRUE(limiter.Allow(1000 * kMs, &suppressed));
  EXPECT_EQ(suppressed, 1000u);
  ASSERT_FALSE(limiter.Allow(1500 * kMs, &suppressed));
  ASSERT_TRUE(limiter.Allow(2000 * kMs, &suppressed));
  EXPECT_EQ(suppressed, 1u);
}

}  // namespace
}  // namespace rcbench::server
