#include "common/x509.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/time/civil_time.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace rcbench::x509 {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

KeyAndCert MakeCa(absl::string_view name = "rcbench test CA") {
  auto ca = CreateCa(name, absl::Now() - absl::Minutes(5), absl::Hours(24));
  EXPECT_TRUE(ca.ok()) << ca.status();
  return ca.ok() ? *ca : KeyAndCert{};
}

KeyAndCert MakeLeaf(const KeyAndCert& ca, IssueOptions options) {
  auto leaf = Issue(ca, options);
  EXPECT_TRUE(leaf.ok()) << leaf.status();
  return leaf.ok() ? *leaf : KeyAndCert{};
}

IssueOptions Leaf(std::string name, std::vector<std::string> hosts = {}) {
  IssueOptions o;
  o.common_name = std::move(name);
  o.hosts = std::move(hosts);
  return o;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "rcbench-x509-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(X509Test, CaRoundTripsThroughParseCertificate) {
  const absl::Time not_before = Utc(2025, 1, 2, 3, 4, 5);
  auto ca = CreateCa("rcbench CA", not_before, absl::Hours(24 * 10));
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_THAT(ca->key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));

  auto info = ParseCertificate(ca->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->subject, "CN=rcbench CA");
  EXPECT_EQ(info->issuer, "CN=rcbench CA");
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->not_before, not_before);
  EXPECT_EQ(info->not_after, not_before + absl::Hours(24 * 10));
  EXPECT_TRUE(info->dns_names.empty());
  EXPECT_EQ(info->serial_hex.size(), 32u);
}

TEST(X509Test, IssuedLeafCarriesNamesSansUsageAndDates) {
  KeyAndCert ca = MakeCa();
  IssueOptions o =
      Leaf("agent1", {"agent1", "agent1.lab.example", "127.0.0.1", "::1", "[fe80::2]"});
  o.not_before = Utc(2030, 6, 1);
  o.validity = absl::Hours(48);
  KeyAndCert leaf = MakeLeaf(ca, o);

  auto info = ParseCertificate(leaf.cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->subject, "CN=agent1");
  EXPECT_EQ(info->issuer, "CN=rcbench test CA");
  EXPECT_FALSE(info->is_ca);
  EXPECT_TRUE(info->server_auth);
  EXPECT_TRUE(info->client_auth);
  EXPECT_THAT(info->dns_names, ::testing::ElementsAre("agent1", "agent1.lab.example"));
  EXPECT_THAT(info->ip_addresses, ::testing::ElementsAre("127.0.0.1", "::1", "fe80::2"));
  EXPECT_EQ(info->not_before, Utc(2030, 6, 1));
  EXPECT_EQ(info->not_after, Utc(2030, 6, 3));
}

TEST(X509Test, DefaultNotBeforeToleratesClockSkew) {
  KeyAndCert leaf = MakeLeaf(MakeCa(), Leaf("agent1"));
  auto info = ParseCertificate(leaf.cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_LE(info->not_before, absl::Now() - absl::Minutes(4));
  EXPECT_GE(info->not_before, absl::Now() - absl::Minutes(6));
}

TEST(X509Test, ServerOnlyLeafIsNotAClientCertificate) {
  IssueOptions o = Leaf("server1", {"server1"});
  o.client_auth = false;
  auto info = ParseCertificate(MakeLeaf(MakeCa(), o).cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->server_auth);
  EXPECT_FALSE(info->client_auth);
}

TEST(X509Test, IssueRejectsAHostThatIsNeitherNameNorAddress) {
  auto leaf = Issue(MakeCa(), Leaf("agent1", {"agent1,DNS:evil.example"}));
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(leaf.status().message(), HasSubstr("agent1,DNS:evil.example"));
}

TEST(X509Test, HostThatOnlyStartsWithAnAddressIsADnsName) {
  auto info = ParseCertificate(MakeLeaf(MakeCa(), Leaf("a", {"10.0.0.1.nip.io"})).cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->dns_names, ::testing::ElementsAre("10.0.0.1.nip.io"));
  EXPECT_TRUE(info->ip_addresses.empty());
}

TEST(X509Test, IssueRejectsACertificateUsableForNothing) {
  IssueOptions o = Leaf("agent1");
  o.server_auth = o.client_auth = false;
  EXPECT_EQ(Issue(MakeCa(), o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(X509Test, IssueRejectsALeafAsIssuer) {
  KeyAndCert leaf = MakeLeaf(MakeCa(), Leaf("agent1"));
  auto grandchild = Issue(leaf, Leaf("agent2"));
  EXPECT_EQ(grandchild.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(grandchild.status().message(), HasSubstr("CN=agent1 is not a CA"));
}

TEST(X509Test, IssueRejectsACaKeyOfAnotherCa) {
  KeyAndCert ca = MakeCa(), other = MakeCa("other CA");
  auto leaf = Issue(KeyAndCert{other.key_pem, ca.cert_pem}, Leaf("agent1"));
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(leaf.status().message(), HasSubstr("does not belong to CA certificate"));
}

TEST(X509Test, IssueRejectsNonPositiveValidity) {
  IssueOptions o = Leaf("agent1");
  o.validity = absl::ZeroDuration();
  EXPECT_EQ(Issue(MakeCa(), o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(X509Test, KeyMatchesItsOwnCertificateOnly) {
  KeyAndCert ca = MakeCa();
  KeyAndCert a = MakeLeaf(ca, Leaf("a")), b = MakeLeaf(ca, Leaf("b"));
  EXPECT_TRUE(CheckKeyMatches(a.cert_pem, a.key_pem).ok());
  absl::Status s = CheckKeyMatches(a.cert_pem, b.key_pem);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("CN=a"));
}

TEST(X509Test, LeafVerifiesAgainstItsCaOnly) {
  KeyAndCert ca = MakeCa(), other = MakeCa("other CA");
  KeyAndCert leaf = MakeLeaf(ca, Leaf("agent1"));
  EXPECT_TRUE(CheckIssuedBy(leaf.cert_pem, ca.cert_pem).ok());
  absl::Status s = CheckIssuedBy(leaf.cert_pem, other.cert_pem);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("certificate CN=agent1 (issuer CN=rcbench test CA)"));
  EXPECT_THAT(s.message(), HasSubstr("against CA CN=other CA"));
  // A bundle holding both CAs verifies.
  EXPECT_TRUE(CheckIssuedBy(leaf.cert_pem, other.cert_pem + ca.cert_pem).ok());
}

TEST(X509Test, CheckIssuedByIgnoresDates) {
  KeyAndCert ca = MakeCa();
  IssueOptions o = Leaf("old");
  o.not_before = absl::Now() - absl::Hours(24 * 10);
  o.validity = absl::Hours(24);
  EXPECT_TRUE(CheckIssuedBy(MakeLeaf(ca, o).cert_pem, ca.cert_pem).ok());
}

TEST(X509Test, ExpiredCertificateNamesItsExpiry) {
  IssueOptions o = Leaf("agent1");
  o.not_before = Utc(2026, 10, 31, 12);
  o.validity = absl::Hours(24);
  auto info = ParseCertificate(MakeLeaf(MakeCa(), o).cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();

  EXPECT_TRUE(CheckValidAt(*info, Utc(2026, 11, 1, 12), "agent1.pem").ok());  // inclusive
  absl::Status s = CheckValidAt(*info, Utc(2026, 11, 1, 12, 0, 1), "agent1.pem");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "agent1.pem: certificate CN=agent1 expired on 2026-11-01 12:00:00 UTC");
}

TEST(X509Test, NotYetValidCertificateNamesItsStart) {
  IssueOptions o = Leaf("agent1");
  o.not_before = Utc(2026, 10, 31, 12);
  auto info = ParseCertificate(MakeLeaf(MakeCa(), o).cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();

  absl::Status s = CheckValidAt(*info, Utc(2026, 10, 31, 11, 59, 59), "");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "certificate CN=agent1 is not valid before 2026-10-31 12:00:00 UTC");
}

TEST(X509Test, BadPemIsInvalidArgument) {
  KeyAndCert leaf = MakeLeaf(MakeCa(), Leaf("agent1"));
  EXPECT_EQ(ParseCertificate("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCertificate("not pem").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCertificate(leaf.key_pem).status().code(), absl::StatusCode::kInvalidArgument);
  std::string corrupt = leaf.cert_pem;
  corrupt[corrupt.size() / 2] = corrupt[corrupt.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(ParseCertificate(corrupt).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckKeyMatches(leaf.cert_pem, leaf.cert_pem).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckIssuedBy(leaf.cert_pem, "").code(), absl::StatusCode::kInvalidArgument);
  absl::Status s = ParseCertificate("not pem").status();
  EXPECT_THAT(s.message(), HasSubstr("no PEM certificate found"));
  EXPECT_THAT(s.message(), HasSubstr("no start line"));  // OpenSSL's reason
}

TEST(X509Test, ParseCertificateSkipsAKeyBeforeTheCertificate) {
  KeyAndCert leaf = MakeLeaf(MakeCa(), Leaf("agent1"));
  auto info = ParseCertificate(leaf.key_pem + leaf.cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->subject, "CN=agent1");
}

TEST(X509Test, MissingFileIsNotFoundAndNamesThePath) {
  TempDir dir;
  auto info = ReadCertificateFile(dir / "missing.pem");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(info.status().message(), HasSubstr(dir / "missing.pem"));
}

TEST(X509Test, FileThatIsNotACertificateNamesThePath) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "junk.pem", "junk", 0644).ok());
  auto info = ReadCertificateFile(dir / "junk.pem");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(info.status().message(), HasSubstr(dir / "junk.pem" + ": no PEM certificate"));
}

TEST(X509Test, ReadKeyAndCertNamesTheMismatchedKeyFile) {
  TempDir dir;
  KeyAndCert ca = MakeCa();
  KeyAndCert a = MakeLeaf(ca, Leaf("a")), b = MakeLeaf(ca, Leaf("b"));
  ASSERT_TRUE(WriteFileAtomically(dir / "a.pem", a.cert_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(dir / "b-key.pem", b.key_pem, 0600).ok());
  auto pair = ReadKeyAndCert(dir / "a.pem", dir / "b-key.pem");
  EXPECT_EQ(pair.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(pair.status().message(), HasSubstr(dir / "b-key.pem"));

  ASSERT_TRUE(WriteFileAtomically(dir / "a-key.pem", a.key_pem, 0600).ok());
  auto good = ReadKeyAndCert(dir / "a.pem", dir / "a-key.pem");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->cert_pem, a.cert_pem);
}

TEST(X509Test, WriteFileAtomicallySetsExactlyTheMode) {
  TempDir dir;
  const mode_t old_umask = ::umask(0);  // the mode must not depend on the umask either way
  absl::Status key = WriteFileAtomically(dir / "key.pem", "secret", 0600);
  absl::Status cert = WriteFileAtomically(dir / "cert.pem", "public", 0644);
  ::umask(old_umask);
  ASSERT_TRUE(key.ok()) << key;
  ASSERT_TRUE(cert.ok()) << cert;
  EXPECT_EQ(ModeOf(dir / "key.pem"), 0600u);
  EXPECT_EQ(ModeOf(dir / "cert.pem"), 0644u);
  EXPECT_EQ(ReadAll(dir / "key.pem"), "secret");
  // Only the two files: no temporary left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(X509Test, WriteFileAtomicallyReplacesAnExistingFileAndItsMode) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "key.pem", "old", 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(dir / "key.pem", "new", 0600).ok());
  EXPECT_EQ(ReadAll(dir / "key.pem"), "new");
  EXPECT_EQ(ModeOf(dir / "key.pem"), 0600u);
}

TEST(X509Test, WriteFileAtomicallyReplacesASymlinkInsteadOfFollowingIt) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "victim", "untouched", 0644).ok());
  fs::create_symlink(dir / "victim", dir / "key.pem");
  ASSERT_TRUE(WriteFileAtomically(dir / "key.pem", "secret", 0600).ok());
  EXPECT_FALSE(fs::is_symlink(dir / "key.pem"));
  EXPECT_EQ(ReadAll(dir / "key.pem"), "secret");
  EXPECT_EQ(ReadAll(dir / "victim"), "untouched");
}

TEST(X509Test, WriteFileAtomicallyIntoAMissingDirectoryIsNotFound) {
  TempDir dir;
  absl::Status s = WriteFileAtomically(dir / "no/such/key.pem", "x", 0600);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr(dir / "no/such/key.pem"));
}

// The certificates must work where they are used: gRPC mutual TLS (gRPC 1.51 on OpenSSL 3).
// The comments on the failure cases record what gRPC reports, for rcbench's own messages.
class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { grpc::EnableDefaultHealthCheckService(true); }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  // Starts a health-serving server on 127.0.0.1:0 that requires and verifies client
  // certificates issued by `client_ca`.
  void StartServer(const KeyAndCert& server, const KeyAndCert& client_ca) {
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = client_ca.cert_pem;
    options.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem});
    grpc::ServerBuilder builder;
    // gRPC adds the default health service only after checking that some service needs a
    // polled completion queue; without another service BuildAndStart fails ("At least one of
    // the completion queues must be frequently polled"). Unknown methods get UNIMPLEMENTED.
    builder.RegisterCallbackGenericService(&unimplemented_);
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options), &port_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
  }

  // One health check over a fresh connection, presenting `client` (if any) and trusting
  // `server_ca`.
  grpc::Status Check(const std::optional<KeyAndCert>& client, const KeyAndCert& server_ca,
                     const std::string& target_name_override = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = server_ca.cert_pem;
    if (client) {
      options.pem_private_key = client->key_pem;
      options.pem_cert_chain = client->cert_pem;
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // no connection reuse across cases
    if (!target_name_override.empty()) args.SetSslTargetNameOverride(target_name_override);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                             grpc::SslCredentials(options), args);
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status status = stub->Check(&ctx, req, &resp);
    if (status.ok()) {
      EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    }
    return status;
  }

  KeyAndCert Expired(const KeyAndCert& ca, const std::string& name,
                     std::vector<std::string> hosts = {}) {
    IssueOptions o = Leaf(name, std::move(hosts));
    o.not_before = absl::Now() - absl::Hours(24 * 10);
    o.validity = absl::Hours(24);
    return MakeLeaf(ca, o);
  }

  KeyAndCert ca_ = MakeCa();
  KeyAndCert other_ca_ = MakeCa("other CA");
  KeyAndCert server_cert_ = MakeLeaf(ca_, Leaf("server", {"127.0.0.1"}));
  grpc::CallbackGenericService unimplemented_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(MutualTlsTest, ClientCertificateFromTheSameCaIsServed) {
  StartServer(server_cert_, ca_);
  grpc::Status s = Check(MakeLeaf(ca_, Leaf("controller")), ca_);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

// When the server rejects the client's certificate (TLS 1.3: after the client has finished its
// side of the handshake), the client learns nothing but a closed socket:
//   UNAVAILABLE "failed to connect to all addresses; last error: UNAVAILABLE:
//   ipv4:127.0.0.1:PORT: Socket closed"
// and the server logs (gpr_log ERROR, ssl_transport_security.cc) "Handshake failed with fatal
// error SSL_ERROR_SSL: error:0A000086:SSL routines::certificate verify failed." (wrong CA,
// expired, or serverAuth-only) or "...error:0A0000C7:SSL routines::peer did not return a
// certificate." (none). Neither side says which check failed: check certificates with
// CheckValidAt / CheckIssuedBy before starting, where the message can say.
constexpr char kRejectedByServer[] = "Socket closed";

// When the client rejects the server's certificate (wrong CA or expired alike):
//   UNAVAILABLE "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:PORT:
//   Ssl handshake failed: SSL_ERROR_SSL: error:0A000086:SSL routines::certificate verify failed"
constexpr char kServerNotVerified[] =
    "Ssl handshake failed: SSL_ERROR_SSL: error:0A000086:SSL routines::certificate verify failed";

TEST_F(MutualTlsTest, ClientCertificateFromAnotherCaIsRejected) {
  StartServer(server_cert_, ca_);
  grpc::Status s = Check(MakeLeaf(other_ca_, Leaf("intruder")), ca_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(kRejectedByServer));
}

TEST_F(MutualTlsTest, ExpiredClientCertificateIsRejected) {
  StartServer(server_cert_, ca_);
  grpc::Status s = Check(Expired(ca_, "controller"), ca_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(kRejectedByServer));
}

TEST_F(MutualTlsTest, ClientWithoutCertificateIsRejected) {
  StartServer(server_cert_, ca_);
  grpc::Status s = Check(std::nullopt, ca_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(kRejectedByServer));
}

// OpenSSL checks extendedKeyUsage: a --server-only certificate cannot act as a client.
TEST_F(MutualTlsTest, ServerOnlyCertificateIsRejectedAsAClientCertificate) {
  StartServer(server_cert_, ca_);
  IssueOptions o = Leaf("controller");
  o.client_auth = false;
  grpc::Status s = Check(MakeLeaf(ca_, o), ca_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(kRejectedByServer));
}

TEST_F(MutualTlsTest, ServerCertificateFromAnotherCaIsRejected) {
  StartServer(MakeLeaf(other_ca_, Leaf("server", {"127.0.0.1"})), ca_);
  grpc::Status s = Check(MakeLeaf(ca_, Leaf("controller")), ca_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(kServerNotVerified));
}

TEST_F(MutualTlsTest, ExpiredServerCertificateIsRejected) {
  StartServer(Expired(ca_, "server", {"127.0.0.1"}), ca_);
  grpc::Status s = Check(MakeLeaf(ca_, Leaf("controller")), ca_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(kServerNotVerified));
}

// gRPC matches an IP-literal target against the IP SANs. A mismatch gives
//   UNAVAILABLE "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:PORT:
//   Peer name 127.0.0.1 is not in peer certificate"
// (the client logs "No match found for server name: 127.0.0.1.").
TEST_F(MutualTlsTest, ServerCertificateForAnotherIpIsRejected) {
  StartServer(MakeLeaf(ca_, Leaf("server", {"10.9.9.9"})), ca_);
  grpc::Status s = Check(MakeLeaf(ca_, Leaf("controller")), ca_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("Peer name 127.0.0.1 is not in peer certificate"));
}

TEST_F(MutualTlsTest, TargetNameOverrideMatchesAnIpSan) {
  StartServer(MakeLeaf(ca_, Leaf("server", {"10.9.9.9"})), ca_);
  grpc::Status s = Check(MakeLeaf(ca_, Leaf("controller")), ca_, "10.9.9.9");
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

}  // namespace
}  // namespace rcbench::x509
