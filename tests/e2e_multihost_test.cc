// Privileged: the smoke matrix across network namespaces, with mutual TLS and a token on every
// link. rcbench-server and rcbench-agent run in one namespace, rcbench-loadgen in another, the
// controller in the root namespace; the test creates the namespaces and three veth pairs
// (root<->server, root<->client for gRPC, and server<->client for the load) and removes them
// on every path. No namespace has a default route, so nothing can leave. A second test checks
// that every kind of bad credential is refused and changes nothing on the target host.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/rpc_security.h"
#include "common/x509.h"
#include "controller/store.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rcbench/v1/agent.grpc.pb.h"
#include "tests/e2e_util.h"
#include "tests/multihost_fixture.h"

namespace rcbench::e2e {
namespace {

using rcbench::ClientSecurity;

class MultiHostE2eTest : public MultiHostFixture {
 protected:
  std::string SyncookiesInServerNamespace() const {
    return Capture("ip netns exec " + topo_->srv() +
                   " cat /proc/sys/net/ipv4/tcp_syncookies 2>/dev/null");
  }
};

TEST_F(MultiHostE2eTest, SmokeMatrixCompletesWithMutualTlsAndATokenOnEveryLink) {
  std::vector<std::string> argv = {"run", Spec("smoke_multihost"), "--db", dir() / "rcbench.db"};
  for (const auto& f : creds_->ControllerFlags()) argv.push_back(f);
  Result r = RunRcbench(argv, dir() / "run.log");
  ASSERT_EQ(r.exit_code, 0) << r.output << "\nagent:\n"
                            << ReadFile(dir() / "agent.log") << "\nloadgen:\n"
                            << ReadFile(dir() / "loadgen.log");
  auto store = *controller::SqliteResultStore::Open(dir() / "rcbench.db");
  auto runs = *store->ListRuns("smoke_multihost");
  ASSERT_EQ(runs.size(), 8u);
  for (const auto& run : runs) {
    ASSERT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store->GetResults(run.run_id(), false);
    ASSERT_EQ(results.classes_size(), 2);
    for (const auto& c : results.classes()) EXPECT_GT(c.throughput_rps(), 0) << c.class_name();
    ASSERT_EQ(results.hosts_size(), 1);
  }
  // Every mutating call was audited with the controller's certificate as the caller.
  std::string agent_log = ReadFile(dir() / "agent.log");
  EXPECT_THAT(
      agent_log,
      ::testing::HasSubstr("audit: rcbench-agent /rcbench.v1.Agent/StartService by CN=controller"));
  EXPECT_THAT(
      ReadFile(dir() / "loadgen.log"),
      ::testing::HasSubstr("audit: rcbench-loadgen /rcbench.v1.LoadGen/Start by CN=controller"));
}

TEST_F(MultiHostE2eTest, EveryBadCredentialIsRefusedNamingTheCauseAndNothingChanges) {
  const std::string before = SyncookiesInServerNamespace();
  ASSERT_FALSE(before.empty());
  // Through `rcbench run`: each error names the host, the link and the cause.
  struct Case {
    std::string name, agent_extra;
    std::vector<std::string> flags;
    std::string expect;
  };
  auto file = [](const std::string& p) { return "\"" + p + "\""; };
  std::vector<Case> cases = {
      {"plaintext", "", {"--token-file", creds_->token}, "(plaintext)"},
      {"foreign_ca",
       absl::StrCat(", ca: ", file(creds_->foreign.ca_file), ", cert: ",
                    file(creds_->foreign.cert_file), ", key: ", file(creds_->foreign.key_file)),
       creds_->ControllerFlags(), "CN=foreign"},
      {"expired",
       absl::StrCat(", ca: ", file(creds_->expired.ca_file), ", cert: ",
                    file(creds_->expired.cert_file), ", key: ", file(creds_->expired.key_file)),
       creds_->ControllerFlags(), "expired on"},
      {"wrong_name", ", server_name: other.lab", creds_->ControllerFlags(), "other.lab"},
      {"wrong_token", absl::StrCat(", token_file: ", file(creds_->wrong_token)),
       creds_->ControllerFlags(), "a wrong token"},
      {"no_token",
       "",
       {"--tls-cert", creds_->controller.cert_file, "--tls-key", creds_->controller.key_file,
        "--tls-ca", creds_->controller.ca_file},
       "no token to present"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {"run", Spec("refused_" + c.name, c.agent_extra), "--db",
                                     dir() / "refused.db"};
    for (const auto& f : c.flags) argv.push_back(f);
    Result r = RunRcbench(argv, dir() / ("run-" + c.name + ".log"));
    std::cout << c.name << ": " << r.output;  // what a user sees, kept in the test's log
    EXPECT_NE(r.exit_code, 0) << c.name;
    EXPECT_THAT(r.output, ::testing::HasSubstr("srv")) << c.name;
    EXPECT_THAT(r.output, ::testing::HasSubstr(c.expect)) << c.name << ":\n" << r.output;
  }
  // Straight at the agent, as an attacker would: every call refused by the agent itself.
  auto call_set_sysctl = [&](const ClientSecurity& security) {
    auto channel = MakeRpcChannel(agent_addr_, security);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    auto stub = rcbench::v1::Agent::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    rcbench::v1::SetSysctlRequest req;
    req.set_name("net.ipv4.tcp_syncookies");
    req.set_value(before == "0\n" ? "1" : "0");
    rcbench::v1::SetSysctlResponse resp;
    return stub->SetSysctl(&ctx, req, &resp);
  };
  ClientSecurity good;
  good.tls = creds_->controller;
  ClientSecurity no_token = good;
  EXPECT_EQ(call_set_sysctl(no_token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ClientSecurity reader = good;
  reader.token = *ReadTokenFile(creds_->read_token);
  grpc::Status denied = call_set_sysctl(reader);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), ::testing::HasSubstr("needs the control role"));
  ClientSecurity plaintext;
  plaintext.token = *ReadTokenFile(creds_->token);
  EXPECT_EQ(call_set_sysctl(plaintext).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A TLS client that presents no certificate at all (only the CA): the handshake fails.
  {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *x509::ReadPemFile(creds_->hosts.ca_file);
    auto channel = grpc::CreateChannel(agent_addr_, grpc::SslCredentials(ssl));
    auto stub = rcbench::v1::Agent::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.AddMetadata("authorization", "Bearer " + *ReadTokenFile(creds_->token));
    rcbench::v1::CreateContainerRequest req;
    req.set_path("intruder");
    rcbench::v1::ContainerInfo resp;
    EXPECT_EQ(stub->CreateContainer(&ctx, req, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // Nothing changed on the target host: no container, the sysctl as it was.
  EXPECT_EQ(ContainersUnderRoot(), 0u);
  EXPECT_EQ(SyncookiesInServerNamespace(), before);
  EXPECT_THAT(ReadFile(dir() / "agent.log"), ::testing::HasSubstr("-> code 16"));  // audited
}

}  // namespace
}  // namespace rcbench::e2e
