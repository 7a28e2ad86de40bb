// The control plane's shared wiring over real loopback TCP: tokens, the listen-address rule,
// and mutual TLS with certificates from common/x509.

#include "common/rpc_security.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"
#include "common/x509.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rcbench/v1/agent.grpc.pb.h"

namespace rcbench {
namespace {

using ::testing::HasSubstr;

class RpcSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rcbench-rpcsec-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ca_ = *x509::CreateCa("test CA", absl::Now() - absl::Hours(1), absl::Hours(48));
    other_ca_ = *x509::CreateCa("other CA", absl::Now() - absl::Hours(1), absl::Hours(48));
    Write("ca.pem", ca_.cert_pem);
    server_ = Issue(ca_, "server", {"127.0.0.1", "agent.lab"});
    client_ = Issue(ca_, "client", {});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    EXPECT_TRUE(x509::WriteFileAtomically(path, text, 0600).ok());
    return path;
  }
  // Issues NAME.pem/NAME-key.pem and returns their TlsFiles (with this test's CA).
  TlsFiles Issue(const x509::KeyAndCert& ca, const std::string& name,
                 std::vector<std::string> hosts, absl::Time from = absl::Now() - absl::Hours(1),
                 absl::Duration validity = absl::Hours(24)) {
    x509::IssueOptions o;
    o.common_name = name;
    o.hosts = std::move(hosts);
    o.not_before = from;
    o.validity = validity;
    auto kc = x509::Issue(ca, o);
    EXPECT_TRUE(kc.ok()) << kc.status();
    return {Write(name + ".pem", kc->cert_pem), Write(name + "-key.pem", kc->key_pem),
            (dir_ / "ca.pem").string()};
  }
  BuiltRpcServer Serve(TlsFiles tls) {
    RpcServerOptions o;
    o.component = "test-server";
    o.listen = "127.0.0.1:0";
    o.security.tls = std::move(tls);
    // Any service: a server needs one to poll; the health service comes with it.
    auto built = BuildRpcServer(o, {&unimplemented_});
    EXPECT_TRUE(built.ok()) << built.status();
    return built.ok() ? *std::move(built) : BuiltRpcServer{};
  }
  grpc::Status Health(int port, const ClientSecurity& security) {
    auto channel = MakeRpcChannel("127.0.0.1:" + std::to_string(port), security);
    EXPECT_TRUE(channel.ok()) << channel.status();
    auto stub = grpc::health::v1::Health::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    grpc::health::v1::HealthCheckResponse resp;
    return stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
  }

  rcbench::v1::Agent::Service unimplemented_;
  std::filesystem::path dir_;
  x509::KeyAndCert ca_, other_ca_;
  TlsFiles server_, client_;
};

TEST_F(RpcSecurityTest, NewTokensAreLongAndDifferent) {
  auto a = NewToken(), b = NewToken();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), kMinTokenChars);
  EXPECT_NE(*a, *b);
}

TEST_F(RpcSecurityTest, TokenFileRoundTripsWithModeOwnerOnly) {
  std::string path = (dir_ / "token").string();
  ASSERT_TRUE(WriteTokenFile(path, *NewToken()).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(ReadTokenFile(path).ok());
}

TEST_F(RpcSecurityTest, TokenFileOthersMayReadIsRefused) {
  std::string path = Write("token", *NewToken());
  chmod(path.c_str(), 0644);
  auto t = ReadTokenFile(path);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(t.status().message(), HasSubstr("chmod 600"));
}

TEST_F(RpcSecurityTest, ShortTokenIsRefused) {
  auto t = ReadTokenFile(Write("token", "secret\n"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("holds 6 characters"));
}

TEST_F(RpcSecurityTest, AuthorizerWithoutATokenFileIsRefused) {
  auto a = Authorizer::Load("rcbench-agent", ServerSecurity());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("--token-file"));
}

TEST_F(RpcSecurityTest, NonLoopbackPlaintextListenerIsRefusedNamingTheFlags) {
  absl::Status s = CheckListenSecurity("rcbench-agent", {"10.1.2.3", 0}, ServerSecurity());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("--tls-cert FILE --tls-key FILE --tls-ca FILE"));
  EXPECT_THAT(s.message(), HasSubstr("--insecure-plaintext"));
  EXPECT_TRUE(CheckListenSecurity("x", {"127.0.0.5", 0}, ServerSecurity()).ok());
  EXPECT_TRUE(CheckListenSecurity("x", {"::1", 0}, ServerSecurity()).ok());
  ServerSecurity insecure;
  insecure.insecure_plaintext = true;
  EXPECT_TRUE(CheckListenSecurity("x", {"10.1.2.3", 0}, insecure).ok());
  ServerSecurity tls;
  tls.tls = server_;
  EXPECT_TRUE(CheckListenSecurity("x", {"0.0.0.0", 0}, tls).ok());
}

TEST_F(RpcSecurityTest, MutualTlsWithCertificatesFromTheSameCaWorks) {
  BuiltRpcServer s = Serve(server_);
  ClientSecurity c;
  c.tls = client_;
  EXPECT_TRUE(Health(s.port, c).ok());
}

TEST_F(RpcSecurityTest, ClientCertificateFromAnotherCaIsRefusedByTheServer) {
  BuiltRpcServer s = Serve(server_);
  TlsFiles foreign = Issue(other_ca_, "foreign", {});
  foreign.ca_file = Write("other-ca.pem", other_ca_.cert_pem);
  // This client trusts the server's CA but holds a certificate from another one.
  foreign.ca_file = (dir_ / "ca.pem").string();
  ClientSecurity c;
  c.tls = foreign;
  // LoadTlsFiles refuses the mismatch on this side first...
  EXPECT_FALSE(MakeRpcChannel("127.0.0.1:1", c).ok());
  // ...and a client that skips the check is refused by the server's handshake.
  grpc::SslCredentialsOptions ssl{ca_.cert_pem, *x509::ReadPemFile(foreign.key_file),
                                  *x509::ReadPemFile(foreign.cert_file)};
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(s.port), grpc::SslCredentials(ssl));
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(RpcSecurityTest, ExpiredClientCertificateIsRefusedNamingTheDate) {
  TlsFiles expired = Issue(ca_, "expired", {}, absl::Now() - absl::Hours(48), absl::Hours(1));
  ClientSecurity c;
  c.tls = expired;
  auto channel = MakeRpcChannel("127.0.0.1:1", c, "controller -> agent a");
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(channel.status().message(), HasSubstr("controller -> agent a"));
  EXPECT_THAT(channel.status().message(), HasSubstr("expired on"));
}

TEST_F(RpcSecurityTest, ServerNameMismatchIsRefusedAndAnOverrideMatches) {
  TlsFiles named = Issue(ca_, "named", {"agent.lab"});
  BuiltRpcServer s = Serve(named);
  ClientSecurity c;
  c.tls = client_;
  grpc::Status st = Health(s.port, c);  // dialled as 127.0.0.1: not in the certificate
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  c.server_name = "agent.lab";
  EXPECT_TRUE(Health(s.port, c).ok());
}

TEST_F(RpcSecurityTest, PlaintextClientToATlsPortFailsWithAHint) {
  BuiltRpcServer s = Serve(server_);
  ClientSecurity plain;
  grpc::Status st = Health(s.port, plain);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ExplainRpcFailure(st, plain), HasSubstr("--tls-cert"));
}

}  // namespace
}  // namespace rcbench
