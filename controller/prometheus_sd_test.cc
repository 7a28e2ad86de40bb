#include "controller/prometheus_sd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/testing/fake_clock.h"
#include "controller/testing/fake_testbed.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A fake testbed whose server reports a metrics address and whose Stop() is counted.
class CountingTestbed : public testing::FakeTestbed {
 public:
  using FakeTestbed::FakeTestbed;
  absl::StatusOr<TemplateVars> StartServer(const ServerLaunch& launch) override {
    auto vars = FakeTestbed::StartServer(launch);
    (*vars)["server.metrics"] = server_metrics_;
    return vars;
  }
  void Stop() override { ++stops_; }
  std::string server_metrics_ = "127.0.0.1:9300";
  int stops_ = 0;
};

class PrometheusSdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rcbench-sd-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  nlohmann::json Read(const std::string& job) {
    std::ifstream in(dir_ / (job + ".json"));
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
  }

  PublishingOptions Options() {
    PublishingOptions o;
    o.experiment = "smoke";
    o.server_host = "local";
    o.endpoints = [this] {
      MetricsEndpoints e;
      e.agents["local"] = agent_metrics_;
      e.loadgens["local"] = "127.0.0.1:9200";
      return e;
    };
    return o;
  }

  fs::path dir_;
  std::string agent_metrics_ = "127.0.0.1:9100";
  rcbench::testing::FakeClock clock_;
};

TEST_F(PrometheusSdTest, NoGroupsIsAnEmptyList) { EXPECT_EQ(FormatFileSd({}), "[]\n"); }

TEST_F(PrometheusSdTest, WriteCreatesTheJobFileWithTargetsAndLabels) {
  PrometheusSdWriter sd(dir_.string());
  ASSERT_TRUE(sd.Init().ok());
  ASSERT_TRUE(sd.Write("agent", {{{"10.0.0.5:9101"}, {{"host", "sut1"}}}}).ok());
  nlohmann::json j = Read("agent");
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["targets"][0], "10.0.0.5:9101");
  EXPECT_EQ(j[0]["labels"]["host"], "sut1");
  EXPECT_FALSE(fs::exists(dir_ / "agent.json.tmp"));
}

TEST_F(PrometheusSdTest, WriteIntoAMissingDirectoryNamesTheFile) {
  PrometheusSdWriter sd((dir_ / "missing").string());
  absl::Status s = sd.Write("server", {});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("server.json.tmp"));
}

TEST_F(PrometheusSdTest, EnsureExistsKeepsAFileTheUserWrote) {
  PrometheusSdWriter sd(dir_.string());
  ASSERT_TRUE(sd.Init().ok());
  ASSERT_TRUE(sd.Write("loadgen", {{{"10.0.0.6:9102"}, {}}}).ok());
  ASSERT_TRUE(sd.EnsureExists("loadgen").ok());
  ASSERT_TRUE(sd.EnsureExists("agent").ok());
  EXPECT_EQ(Read("loadgen").size(), 1u);
  EXPECT_EQ(Read("agent"), nlohmann::json::array());
}

TEST_F(PrometheusSdTest, StartPublishesAgentAndLoadgenWithHostAndExperiment) {
  PrometheusSdWriter sd(dir_.string());
  ASSERT_TRUE(sd.Init().ok());
  CountingTestbed inner(clock_);
  PublishingTestbed testbed(inner, &sd, Options());
  ASSERT_TRUE(testbed.Start().ok());
  nlohmann::json agent = Read("agent");
  ASSERT_EQ(agent.size(), 1u);
  EXPECT_EQ(agent[0]["targets"][0], "127.0.0.1:9100");
  EXPECT_EQ(agent[0]["labels"]["host"], "local");
  EXPECT_EQ(agent[0]["labels"]["experiment"], "smoke");
  EXPECT_EQ(Read("loadgen")[0]["targets"][0], "127.0.0.1:9200");
  EXPECT_TRUE(testbed.publish_status().ok());
}

TEST_F(PrometheusSdTest, ARestartedChildIsRepublishedAtItsNewAddress) {
  PrometheusSdWriter sd(dir_.string());
  ASSERT_TRUE(sd.Init().ok());
  CountingTestbed inner(clock_);
  PublishingTestbed testbed(inner, &sd, Options());
  ASSERT_TRUE(testbed.Start().ok());
  agent_metrics_ = "127.0.0.1:9111";
  ASSERT_TRUE(testbed.Start().ok());
  EXPECT_EQ(Read("agent")[0]["targets"][0], "127.0.0.1:9111");
}

TEST_F(PrometheusSdTest, AFixedServerAddressIsPublishedBeforeAnyServerRuns) {
  PrometheusSdWriter sd(dir_.string());
  ASSERT_TRUE(sd.Init().ok());
  CountingTestbed inner(clock_);
  PublishingOptions o = Options();
  o.fixed_server_metrics = "127.0.0.1:9300";
  PublishingTestbed testbed(inner, &sd, o);
  ASSERT_TRUE(testbed.Start().ok());
  nlohmann::json server = Read("server");
  ASSERT_EQ(server.size(), 1u);
  EXPECT_EQ(server[0]["targets"][0], "127.0.0.1:9300");
  EXPECT_EQ(server[0]["labels"]["host"], "local");
}

TEST_F(PrometheusSdTest, EachServerStartRewritesTheServerTarget) {
  PrometheusSdWriter sd(dir_.string());
  ASSERT_TRUE(sd.Init().ok());
  CountingTestbed inner(clock_);
  PublishingTestbed testbed(inner, &sd, Options());
  ASSERT_TRUE(testbed.Start().ok());
  ASSERT_TRUE(testbed.StartServer({}).ok());
  EXPECT_EQ(Read("server")[0]["targets"][0], "127.0.0.1:9300");
  inner.server_metrics_ = "10.0.0.5:9301";
  ASSERT_TRUE(testbed.StartServer({}).ok());
  EXPECT_EQ(Read("server")[0]["targets"][0], "10.0.0.5:9301");
}

TEST_F(PrometheusSdTest, WithoutAWriterNothingIsWritten) {
  CountingTestbed inner(clock_);
  PublishingTestbed testbed(inner, nullptr, Options());
  ASSERT_TRUE(testbed.Start().ok());
  ASSERT_TRUE(testbed.StartServer({}).ok());
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(PrometheusSdTest, AFailedWriteIsReportedButDoesNotFailTheStart) {
  PrometheusSdWriter sd((dir_ / "missing").string());
  CountingTestbed inner(clock_);
  PublishingTestbed testbed(inner, &sd, Options());
  EXPECT_TRUE(testbed.Start().ok());
  EXPECT_FALSE(testbed.publish_status().ok());
}

TEST_F(PrometheusSdTest, DeferredStopLeavesTheChildrenUpUntilStopNow) {
  CountingTestbed inner(clock_);
  PublishingTestbed testbed(inner, nullptr, Options());
  testbed.set_defer_stop(true);
  testbed.Stop();
  EXPECT_EQ(inner.stops_, 0);
  testbed.StopNow();
  EXPECT_EQ(inner.stops_, 1);
}

TEST_F(PrometheusSdTest, StopIsForwardedByDefault) {
  CountingTestbed inner(clock_);
  PublishingTestbed testbed(inner, nullptr, Options());
  testbed.Stop();
  EXPECT_EQ(inner.stops_, 1);
}

TEST_F(PrometheusSdTest, LocalModeTargetFilesPublishTheControllerAndEndEmpty) {
  {
    auto files = ExperimentTargetFiles::Create(dir_.string(), "smoke", true, "127.0.0.1:9400");
    ASSERT_TRUE(files.ok()) << files.status();
    ASSERT_TRUE((*files)->writer().Write("agent", {{{"127.0.0.1:9100"}, {}}}).ok());
    nlohmann::json controller = Read("controller");
    ASSERT_EQ(controller.size(), 1u);
    EXPECT_EQ(controller[0]["targets"][0], "127.0.0.1:9400");
    EXPECT_EQ(controller[0]["labels"]["host"], "local");
    EXPECT_EQ(controller[0]["labels"]["experiment"], "smoke");
    EXPECT_EQ(Read("server"), nlohmann::json::array());
  }
  for (const char* job : {"agent", "loadgen", "server", "controller"}) {
    EXPECT_EQ(Read(job), nlohmann::json::array()) << job;
  }
}

TEST_F(PrometheusSdTest, MultiHostTargetFilesLeaveTheUsersAgentListAlone) {
  PrometheusSdWriter user(dir_.string());
  ASSERT_TRUE(user.Init().ok());
  ASSERT_TRUE(user.Write("agent", {{{"10.0.0.5:9101"}, {{"host", "sut1"}}}}).ok());
  {
    auto files = ExperimentTargetFiles::Create(dir_.string(), "demo", false, "10.0.0.1:9400");
    ASSERT_TRUE(files.ok()) << files.status();
    EXPECT_THAT((*files)->owned_jobs(), ::testing::ElementsAre("server", "controller"));
    EXPECT_EQ(Read("loadgen"), nlohmann::json::array());
  }
  EXPECT_EQ(Read("agent")[0]["targets"][0], "10.0.0.5:9101");
  EXPECT_EQ(Read("controller"), nlohmann::json::array());
}

TEST_F(PrometheusSdTest, TargetFilesInAnUncreatableDirectoryAreAnError) {
  ASSERT_TRUE(fs::create_directories(dir_));
  std::ofstream(dir_ / "file") << "x";
  auto files = ExperimentTargetFiles::Create((dir_ / "file" / "sub").string(), "smoke", true,
                                             "127.0.0.1:9400");
  EXPECT_FALSE(files.ok());
  EXPECT_THAT(files.status().message(), HasSubstr("--prometheus-sd-dir"));
}

TEST_F(PrometheusSdTest, PickedLoopbackAddressHasAPort) {
  auto addr = PickLoopbackAddress();
  ASSERT_TRUE(addr.ok()) << addr.status();
  EXPECT_THAT(*addr, ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(*addr, "127.0.0.1:0");
}

}  // namespace
}  // namespace rcbench::controller
