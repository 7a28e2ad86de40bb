// End to end on this host's real cgroups: the rcbench-agent binary starts a declared busy
// service in a real container; the CPU the agent reports for that container must agree with
// the process's own accounting within 5%, its listening socket must be attributed to the
// container, and /metrics scraped over HTTP must show the container.

#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "agent/cgroup_layout.h"
#include "common/rpc_security.h"
#include "common/testing/http_get.h"
#include "common/testing/process.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rcbench/v1/agent.grpc.pb.h"
#include "tests/agent_test_cleanup.h"

namespace rcbench::agent {
namespace {

namespace v1 = rcbench::v1;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

using testing::Slurp;

// CPU time of every thread of `pid`, in ns, from the scheduler's own accounting.
uint64_t ProcessCpuNs(pid_t pid) {
  uint64_t total = 0;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& e : fs::directory_iterator(dir)) {
    total += std::strtoull(Slurp(e.path().string() + "/schedstat").c_str(), nullptr, 10);
  }
  return total;
}

// The state letter of `pid` in /proc/PID/stat ('T' once stopped), or 0.
char ProcessState(pid_t pid) {
  const std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? 0 : stat[paren + 2];
}

using Cleanup = testing::AgentTestCleanup;

TEST(AgentPrivilegedTest, ReportedCpuOfABusyContainerMatchesTheProcessAndMetricsShowIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  const char* bin_dir = getenv("RCBENCH_BIN_DIR");
  std::string agent_bin = std::string(bin_dir ? bin_dir : "") + "/rcbench-agent";
  if (access(agent_bin.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << agent_bin;
  if (access("/usr/bin/perl", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/perl for the busy service";
  auto layout = ProbeCgroupLayout();
  if (!layout.ok()) GTEST_SKIP() << "no usable cgroups: " << layout.status();

  const std::string root = "rcbench-agenttest-" + std::to_string(getpid());
  Cleanup cleanup(*layout, root);
  char tmpl[] = "/tmp/rcbench-agenttest-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  cleanup.tmp_dir = tmpl;
  const std::string config = cleanup.tmp_dir + "/agent.yaml";
  const std::string ready = cleanup.tmp_dir + "/ready";
  const std::string token_file = cleanup.tmp_dir + "/token";
  const std::string token = *NewToken();
  ASSERT_TRUE(WriteTokenFile(token_file, token).ok());
  std::ofstream(config) << "root: " << root << "\n"
                        << "interval: 100ms\n"
                        << "services:\n"
                        << "  busy:\n"
                        << "    command: [/usr/bin/perl, -e, 'use Socket; socket(S, PF_INET, "
                           "SOCK_STREAM, 0) or die; bind(S, pack_sockaddr_in(0, "
                           "inet_aton(\"127.0.0.1\"))) or die; listen(S, 5) or die; 1 while 1']\n"
                        << "    container: busy\n";

  {
    rcbench::testing::ProcessOptions options;
    options.stderr_path = cleanup.tmp_dir + "/agent.log";
    auto agent = rcbench::testing::Process::Start(
        {agent_bin, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config",
         config, "--ready-file", ready, "--token-file", token_file, "--die-with-parent"},
        options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    cleanup.agent = std::move(*agent);
  }
  auto ready_kv = cleanup.agent->WaitForReadyFile(ready, std::chrono::seconds(10));
  ASSERT_TRUE(ready_kv.ok()) << ready_kv.status();
  std::map<std::string, std::string> kv = *ready_kv;
  ASSERT_EQ(kv["pid"], std::to_string(cleanup.agent->pid()));

  ClientSecurity security;
  security.token = token;
  auto stub = v1::Agent::NewStub(*MakeRpcChannel(kv["grpc"], security));
  v1::ServiceStatus st;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::StartServiceRequest req;
    req.set_name("busy");
    grpc::Status s = stub->StartService(&ctx, req, &st);
    ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << Slurp(cleanup.tmp_dir + "/agent.log");
  }
  cleanup.service_pid = st.pid();
  // A measurement window, not a wait for a condition: let it burn CPU.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_EQ(kill(st.pid(), SIGSTOP), 0);
  ASSERT_TRUE(rcbench::testing::WaitFor([&] { return ProcessState(st.pid()) == 'T'; },
                                        std::chrono::seconds(5), "the busy service to stop")
                  .ok());
  const uint64_t own_ns = ProcessCpuNs(st.pid());
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t stopped_at = now.tv_sec * 1'000'000'000LL + now.tv_nsec;

  // The first report sampled after the process stopped.
  v1::ContainerUsage usage;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::SubscribeUsageRequest req;
    req.add_path_prefixes("busy");
    auto reader = stub->SubscribeUsage(&ctx, req);
    v1::UsageReport r;
    while (reader->Read(&r)) {
      if (r.containers_size() == 1 && r.containers(0).time().monotonic_ns() > stopped_at) {
        usage = r.containers(0);
        break;
      }
    }
    ctx.TryCancel();
  }
  ASSERT_EQ(usage.id().path(), "busy");
  ASSERT_GT(own_ns, 200'000'000u) << "the busy process barely ran (a loaded machine?)";
  const double ratio = static_cast<double>(usage.cpu_usage_ns()) / static_cast<double>(own_ns);
  std::printf("agent %llu ns / process %llu ns = %.4f\n",
              static_cast<unsigned long long>(usage.cpu_usage_ns()),
              static_cast<unsigned long long>(own_ns), ratio);
  EXPECT_NEAR(ratio, 1.0, 0.05) << "agent " << usage.cpu_usage_ns() << " ns, process " << own_ns
                                << " ns";
  EXPECT_EQ(usage.tcp_sockets().count("LISTEN") ? usage.tcp_sockets().at("LISTEN") : 0u, 1u);
  EXPECT_GE(usage.pids_current(), 1u);

  auto scrape = rcbench::testing::HttpGet(kv["metrics"], "/metrics");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->status, 200);
  const std::string& text = scrape->body;
  EXPECT_THAT(text, HasSubstr("container_cpu_usage_seconds_total{id=\"/" + root +
                              "/busy\",name=\"busy\"}"));
  EXPECT_THAT(text, HasSubstr("rcbench_container_tcp_sockets{id=\"/" + root +
                              "/busy\",name=\"busy\",state=\"LISTEN\"} 1"));

  kill(st.pid(), SIGCONT);
  {
    grpc::ClientContext ctx;
    v1::StopServiceRequest req;
    req.set_name("busy");
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(stub->StopService(&ctx, req, &st).ok());
    EXPECT_EQ(st.state(), v1::ServiceStatus::STATE_STOPPED);
    // The agent blocks SIGTERM for sigwait; its services must not inherit that (issue #14):
    // SIGTERM ends the service, not SIGKILL after the 5 s grace period.
    EXPECT_EQ(st.term_signal(), SIGTERM);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
    cleanup.service_pid = -1;
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteContainerRequest req;
    req.set_path("busy");
    v1::DeleteContainerResponse resp;
    grpc::Status s = stub->DeleteContainer(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  absl::StatusOr<int> code = cleanup.agent->Stop(std::chrono::seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace rcbench::agent
