#pragma once

// The fixture shared by the agent_service_*_test.cc files: an AgentServiceImpl over a fake v2
// cgroup tree (containers "web" and "db"), a fake clock, three declared services ("ready",
// "fails", "sleeper"), a fake /proc/sys with net.ipv4.tcp_syncookies on the allow-list, all
// served in-process with the control token. Everything lives in the fixture and is shut down
// in TearDown. Not thread-safe beyond what the service itself guarantees.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agent/agent_service.h"
#include "agent/host_facts.h"
#include "agent/rc_container_admin.h"
#include "common/testing/fake_clock.h"
#include "common/testing/rpc_testing.h"
#include "gtest/gtest.h"
#include "rc/testing/fake_cgroup_tree.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench::agent::testing {

namespace v1 = rcbench::v1;

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AgentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rc::ContainerSystem::Options rco;
    rco.fs = tree_.fs();
    auto system = rc::ContainerSystem::Open(rco);
    ASSERT_TRUE(system.ok()) << system.status();
    layout_ = CgroupLayout::FromRc((*system)->layout(), *tree_.fs());
    admin_ = std::make_unique<RcContainerAdmin>(std::move(*system), "h1");
    ASSERT_TRUE(admin_->Create("web", {}, false).ok());
    ASSERT_TRUE(admin_->Create("db", {}, false).ok());
    SamplerOptions so;
    so.layout = layout_;
    auto sampler = CgroupSampler::Create(so, &clock_);
    ASSERT_TRUE(sampler.ok());
    AgentOptions ao;
    ao.host = "h1";
    ao.interval = std::chrono::seconds(1);
    ao.retention = std::chrono::seconds(5);  // five reports
    agent_ = std::make_unique<Agent>(ao, std::move(*sampler), nullptr, nullptr, &clock_);

    std::map<std::string, ServiceSpec> specs;
    specs["ready"] = {"ready",
                      {"/bin/sh", "-c",
                       "echo starting >&2; while [ $# -gt 0 ]; do [ \"$1\" = --ready-file ] && "
                       "echo listen=127.0.0.1:1 > \"$2\"; shift; done; exec sleep 30",
                       "ready"},
                      {"--mode=(a|b)"},
                      "svc/ready",
                      "--ready-file",
                      {}};
    specs["fails"] = {
        "fails", {"/bin/sh", "-c", "echo first >&2; echo boom: $GREETING >&2; exit 3"},
        {},      "svc/fails",
        "",      {{"GREETING", "hello"}}};
    specs["sleeper"] = {"sleeper", {"/bin/sleep", "30"}, {}, "svc/sleeper", "", {}};
    state_dir_ = tree_.root() + "/state";
    journal_ = std::make_unique<Journal>("");
    services_ = std::make_unique<ServiceManager>(specs, admin_.get(), state_dir_, "h1",
                                                 ServiceLimits{}, journal_.get());

    sys_dir_ = tree_.root() + "/procsys";
    std::filesystem::create_directories(sys_dir_ + "/net/ipv4");
    std::filesystem::create_directories(sys_dir_ + "/net/core");
    std::ofstream(sys_dir_ + "/net/ipv4/tcp_syncookies") << "1\n";
    std::ofstream(sys_dir_ + "/net/core/somaxconn") << "4096\n";
    sysctls_ = std::make_unique<SysctlStore>(sys_dir_,
                                             std::vector<std::string>{"net.ipv4.tcp_syncookies"});
    CgroupLayout layout = layout_;
    SysctlStore* sysctls = sysctls_.get();
    impl_ = std::make_unique<AgentServiceImpl>(
        agent_.get(), admin_.get(), services_.get(), sysctls_.get(),
        [layout, sysctls](const std::vector<std::string>& extra) {
          std::vector<std::string> names = {"net.core.somaxconn"};
          names.insert(names.end(), extra.begin(), extra.end());
          return CollectHostFacts({}, layout, *sysctls, names);
        },
        rcbench::testing::TestAuthorizer("rcbench-agent"), journal_.get());
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.RegisterService(impl_.get());
    server_ = builder.BuildAndStart();
    channel_ =
        rcbench::testing::InProcessChannelWithToken(server_.get(), rcbench::testing::kControlToken);
    stub_ = v1::Agent::NewStub(channel_);
  }

  void TearDown() override {
    impl_->Shutdown();
    server_->Shutdown();
    services_.reset();
  }

  // Reads reports until `n` arrived.
  std::vector<uint64_t> Read(grpc::ClientReader<v1::UsageReport>* reader, int n,
                             std::vector<v1::UsageReport>* reports = nullptr) {
    std::vector<uint64_t> seqs;
    v1::UsageReport r;
    while (static_cast<int>(seqs.size()) < n && reader->Read(&r)) {
      seqs.push_back(r.sequence());
      if (reports) reports->push_back(r);
    }
    return seqs;
  }

  void SampleTimes(int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(std::chrono::seconds(1));
      agent_->SampleOnce();
    }
  }

  // Declared first: destroyed last, after everything that uses its files.
  rc::testing::FakeCgroupTree tree_{rc::testing::FakeCgroupTree::Kind::kV2};
  CgroupLayout layout_;
  rcbench::testing::FakeClock clock_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<RcContainerAdmin> admin_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<ServiceManager> services_;
  std::unique_ptr<SysctlStore> sysctls_;
  std::unique_ptr<AgentServiceImpl> impl_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  std::string state_dir_, sys_dir_;
};

}  // namespace rcbench::agent::testing
