#include "common/load_vocabulary.h"

#include <gtest/gtest.h>

namespace rcbench {
namespace {

TEST(LoadVocabularyTest, CanonicalNamesRoundTrip) {
  for (LoadMode m : {LoadMode::kSClient, LoadMode::kOpenLoop, LoadMode::kClosedLoop}) {
    EXPECT_EQ(ParseLoadMode(LoadModeName(m)), m);
  }
  for (IoEngine e : {IoEngine::kEpoll, IoEngine::kIoUring}) {
    EXPECT_EQ(ParseIoEngine(IoEngineName(e)), e);
  }
}

TEST(LoadVocabularyTest, OldLoadGeneratorNamesAreAliases) {
  EXPECT_EQ(ParseLoadMode("open"), LoadMode::kOpenLoop);
  EXPECT_EQ(ParseLoadMode("closed"), LoadMode::kClosedLoop);
  EXPECT_EQ(ParseIoEngine("uring"), IoEngine::kIoUring);
  EXPECT_STREQ(LoadModeName(*ParseLoadMode("open")), "open_loop");
}

TEST(LoadVocabularyTest, UnknownNamesAreRejected) {
  for (const char* bad : {"", "Open", "open-loop", "closedloop", "poisson"}) {
    EXPECT_FALSE(ParseLoadMode(bad).has_value()) << bad;
  }
  for (const char* bad : {"", "select", "IO_URING", "kqueue"}) {
    EXPECT_FALSE(ParseIoEngine(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace rcbench
