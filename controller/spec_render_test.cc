#include "controller/spec_render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "controller/spec.h"
#include "controller/testing/spec_testing.h"

// Rendering a parsed spec for one run (spec_render.h).

namespace rcbench::controller {
namespace {

using testing::kBenchmark;

// A factor switches per-class listeners on and off: an entry rendering to "" is left out, and
// a class without an explicit target follows the run's listeners.
TEST(SpecTest, TemplatedServerClassesFollowTheRun) {
  auto spec = ParseSpec(
      "name: t\nfactors:\n  l: [\"\", hi]\nserver:\n  classes: [\"{{l}}\"]\n"
      "load:\n  classes:\n    - {name: hi, mode: closed_loop, connections: 1}\n",
      "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->load_classes[0].auto_target);
  TemplateVars off = {{"l", ""}, {"server.http", "http://127.0.0.1:1"}};
  EXPECT_TRUE(RenderServerClasses(*spec, off)->empty());
  auto w = RenderWorkloads(*spec, off, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.http_classes(0).target(), "http://127.0.0.1:1");
  TemplateVars on = {
      {"l", "hi"}, {"server.http", "http://127.0.0.1:1"}, {"server.http.hi", "http://127.0.0.1:2"}};
  EXPECT_THAT(*RenderServerClasses(*spec, on), ::testing::ElementsAre("hi"));
  w = RenderWorkloads(*spec, on, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.http_classes(0).target(), "http://127.0.0.1:2");
}

// The load generators' socket engine can be a factor (an experiment comparing engines).
TEST(SpecTest, LoadIoEngineAndBatchingRenderPerRun) {
  auto spec = ParseSpec(
      "name: t\nfactors:\n  io: [epoll, io_uring]\n"
      "load:\n  io: \"{{io}}\"\n  io_batch: 16\n  io_batch_wait: 100us\n"
      "  classes:\n    - {name: a, mode: closed_loop, connections: 4, target: "
      "\"http://127.0.0.1:1\"}\n",
      "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto w = RenderWorkloads(*spec, {{"io", "io_uring"}}, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.io_engine(), rcbench::v1::IO_ENGINE_IO_URING);
  EXPECT_EQ(w->begin()->second.io_batch(), 16u);
  EXPECT_EQ(w->begin()->second.io_batch_wait().nanos(), 100'000);
  w = RenderWorkloads(*spec, {{"io", "epoll"}}, std::chrono::seconds(1));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->begin()->second.io_engine(), rcbench::v1::IO_ENGINE_EPOLL);
}

TEST(SpecTest, BenchmarkArgsRenderFactorLevelsAndDropEmptyOnes) {
  auto spec = ParseSpec(kBenchmark, "t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto args = RenderBenchmarkArgs(*spec, {{"min_time", "0.01"}, {"filter", ""}});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(*args, ::testing::ElementsAre("--benchmark_min_time=0.01"));
}

}  // namespace
}  // namespace rcbench::controller
