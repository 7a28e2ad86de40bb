#include "server/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace rcbench::server {
namespace {

TEST(MetricsTest, RequestsAreCountedByStatusClassAndContainer) {
  ServerMetrics m({{"class/high", "high"}, {"class/default", "default"}});
  m.container(0).RecordRequest(200, 1000);
  m.container(0).RecordRequest(404, 1000);
  m.container(1).RecordRequest(502, 1000);
  std::string text = m.RenderText();
  EXPECT_NE(text.find("rcbench_server_requests_total{class=\"high\",code=\"2xx\","
                      "container=\"class/high\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rcbench_server_requests_total{class=\"default\",code=\"5xx\","
                      "container=\"class/default\"} 1"),
            std::string::npos);
}

TEST(MetricsTest, LatencyLandsInTheRightBucket) {
  ServerMetrics m({std::make_pair(std::string("class/default"), std::string("default"))});
  m.container(0).RecordRequest(200, 300'000);  // 300 us
  std::string text = m.RenderText();
  EXPECT_NE(text.find("le=\"0.0002\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("le=\"0.0005\"} 1"), std::string::npos);
}

TEST(MetricsTest, UserCpuIsExportedPerContainer) {
  ServerMetrics m({std::make_pair(std::string("class/high"), std::string("high"))});
  MetricsSources s;
  s.user_cpu_seconds = [] { return std::vector<double>{1.5}; };
  m.set_sources(s);
  EXPECT_NE(m.RenderText().find("rcbench_server_container_cpu_seconds_total{accounting=\"user\","
                                "container=\"class/high\"} 1.5"),
            std::string::npos);
}

TEST(MetricsTest, LatencyPercentilesComeFromTheLogLinearHistogram) {
  ServerMetrics m({std::make_pair(std::string("class/default"), std::string("default"))});
  MetricsSources s;
  s.latency = [] {
    std::vector<LatencyHistogram> v(1);
    for (int i = 1; i <= 100; ++i) v[0].Record(uint64_t(i) * 1'000'000);  // 1..100 ms
    return v;
  };
  m.set_sources(s);
  std::string text = m.RenderText();
  EXPECT_NE(text.find("rcbench_server_request_latency_seconds_count{class=\"default\","
                      "container=\"class/default\"} 100"),
            std::string::npos)
      << text;
  size_t at = text.find("container=\"class/default\",quantile=\"0.99\"} ");
  ASSERT_NE(at, std::string::npos) << text;
  double p99 = std::stod(text.substr(text.find("} ", at) + 2));
  EXPECT_NEAR(p99, 0.099, 0.099 * 0.008);
}

TEST(MetricsTest, HostListenCountersAreReadFromNetstat) {
  std::string path =
      std::filesystem::temp_directory_path() / ("rcbench-netstat-" + std::to_string(getpid()));
  std::ofstream(path) << "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n"
                         "TcpExt: 1 7 9\n"
                         "IpExt: InNoRoutes\nIpExt: 0\n";
  HostListenCounters c = ReadHostListenCounters(path);
  std::filesystem::remove(path);
  EXPECT_EQ(c.overflows, 7u);
  EXPECT_EQ(c.drops, 9u);
}

TEST(MetricsTest, MissingNetstatGivesZeros) {
  HostListenCounters c = ReadHostListenCounters("/nonexistent/netstat");
  EXPECT_EQ(c.overflows, 0u);
}

}  // namespace
}  // namespace rcbench::server
