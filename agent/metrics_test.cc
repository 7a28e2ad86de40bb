#include "agent/metrics.h"

#include "common/daemon.h"
#include "common/testing/fake_clock.h"
#include "common/testing/http_get.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "rc/host_layout.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace rcbench::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_.WriteUsage("rcbench");
    tree_.WriteUsage("rcbench/web");
    tree_.WriteUsage("rcbench/db");
    SamplerOptions so;
    so.layout = CgroupLayout::FromRc(*rc::ProbeHost(*tree_.fs()), *tree_.fs());
    auto sampler = CgroupSampler::Create(so, &clock_);
    ASSERT_TRUE(sampler.ok());
    auto host = HostCounterReader::Create("/proc");
    agent_ = std::make_unique<Agent>(AgentOptions{}, std::move(*sampler), std::move(*host), nullptr,
                                     &clock_);
  }
  std::string Text(size_t max_containers) {
    AgentCollector c(agent_.get(), "rcbench", max_containers);
    return prometheus::TextSerializer().Serialize(c.Collect());
  }
  rc::testing::FakeCgroupTree tree_{rc::testing::FakeCgroupTree::Kind::kV2};
  rcbench::testing::FakeClock clock_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(MetricsTest, ContainerMetricsUseCadvisorNamesUnitsAndLabels) {
  agent_->SampleOnce();
  std::string text = Text(100);
  // 1000 us of CPU = 0.001 s.
  EXPECT_THAT(
      text, HasSubstr("container_cpu_usage_seconds_total{id=\"/rcbench/web\",name=\"web\"} 0.001"));
  EXPECT_THAT(text, HasSubstr("container_memory_working_set_bytes{id=\"/rcbench/web\""));
  EXPECT_THAT(text, HasSubstr("container_cpu_cfs_throttled_seconds_total{"));
  EXPECT_THAT(text, HasSubstr("container_pressure_cpu_waiting_seconds_total{"));
  EXPECT_THAT(text, HasSubstr("name=\"rcbench\""));  // the root subtree itself
  EXPECT_THAT(text, HasSubstr("# TYPE container_cpu_usage_seconds_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE container_memory_usage_bytes gauge"));
}

TEST_F(MetricsTest, HostAndAgentOwnCostAreExported) {
  agent_->SampleOnce();
  std::string text = Text(100);
  EXPECT_THAT(text, HasSubstr("rcbench_host_cpu_seconds_total{mode=\"softirq\"}"));
  EXPECT_THAT(text, HasSubstr("rcbench_host_tcp_events_total{counter=\"ListenOverflows\"}"));
  EXPECT_THAT(text, HasSubstr("rcbench_agent_sample_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("rcbench_agent_cpu_seconds_total{mode=\"user\"}"));
  EXPECT_THAT(text, HasSubstr("rcbench_agent_samples_total 1"));
  EXPECT_THAT(text, HasSubstr("rcbench_agent_containers 3"));
}

TEST_F(MetricsTest, ContainerLabelsAreBounded) {
  agent_->SampleOnce();
  std::string text = Text(1);
  EXPECT_THAT(text, Not(HasSubstr("name=\"web\"")));
  EXPECT_THAT(text, HasSubstr("rcbench_agent_containers_not_exported 2"));
}

TEST_F(MetricsTest, ScrapeOverHttpShowsTheContainer) {
  agent_->SampleOnce();
  auto server = MetricsEndpoint::Start(
      "127.0.0.1:0", std::make_shared<AgentCollector>(agent_.get(), "rcbench", 100));
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  auto resp =
      rcbench::testing::HttpGet("127.0.0.1:" + std::to_string((*server)->port()), "/metrics");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_THAT(resp->body,
              HasSubstr("container_cpu_usage_seconds_total{id=\"/rcbench/db\",name=\"db\"}"));
}

// A dumper that counts its calls and reports one LISTEN socket in cgroup 42.
class CountingDumper : public SocketDumper {
 public:
  explicit CountingDumper(int* calls) : calls_(calls) {}
  absl::Status Dump(bool, SocketTable* out) override {
    ++*calls_;
    *out = SocketTable();
    out->host[10] = 1;
    return absl::OkStatus();
  }

 private:
  int* calls_;
};

TEST_F(MetricsTest, SocketDumpsAreTakenAtMostOncePerSocketsInterval) {
  int calls = 0;
  SamplerOptions so;
  so.layout = CgroupLayout::FromRc(*rc::ProbeHost(*tree_.fs()), *tree_.fs());
  AgentOptions ao;
  ao.interval = std::chrono::milliseconds(100);
  ao.sockets_interval = std::chrono::seconds(1);
  Agent agent(ao, std::move(*CgroupSampler::Create(so, &clock_)), nullptr,
              std::make_unique<CountingDumper>(&calls), &clock_);
  for (int i = 0; i < 20; ++i) {
    auto r = agent.SampleOnce();
    EXPECT_EQ(r->host().tcp_sockets().at("LISTEN"), 1u);  // repeated between dumps
    clock_.Advance(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace rcbench::agent
